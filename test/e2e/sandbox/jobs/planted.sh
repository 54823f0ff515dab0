#!/bin/bash
# A hostile job plants a file the next job would read, behind a directory it made read-only,
# another at the bottom of a tree deeper than PATH_MAX (4096 bytes), and fills the work root to
# the last byte.
W=$(dirname "$(dirname "$HOME")")
(
  cd "$W" && D=$(printf 'd%.0s' $(seq 1 200))
  for i in $(seq 1 30); do mkdir "$D" && cd "$D" || exit 1; done
  echo "planted by an earlier job" > note && chmod 555 . && pwd | wc -c > "$EXFIL/planted-depth"
)
mkdir -p "$W/planted" && echo "planted by an earlier job" > "$W/planted/note" && chmod 555 "$W/planted"
mkdir -p "$W/fill" && dd if=/dev/zero of="$W/fill/big" bs=1M 2>/dev/null; chmod 555 "$W/fill"
df -k "$W" | tail -1 > "$EXFIL/planted-df"
exit 0
