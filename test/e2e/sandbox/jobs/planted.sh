#!/bin/bash
# A hostile job plants a file the next job would read, behind a directory it made read-only,
# and fills the work root to the last byte.
W=$(dirname "$(dirname "$HOME")")
mkdir -p "$W/planted" && echo "planted by an earlier job" > "$W/planted/note" && chmod 555 "$W/planted"
mkdir -p "$W/fill" && dd if=/dev/zero of="$W/fill/big" bs=1M 2>/dev/null; chmod 555 "$W/fill"
df -k "$W" | tail -1 > "$EXFIL/planted-df"
exit 0
