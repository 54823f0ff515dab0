#!/bin/bash
# The next job looks at the sandbox it was given.
W=$(dirname "$(dirname "$HOME")")
ls -A "$W" > "$EXFIL/check-ls"
df -k "$W" | tail -1 > "$EXFIL/check-df"
grep -rah 'planted by an earlier job\|KILLED_JOB_TOKEN' "$W" 2>/dev/null >> "$EXFIL/check-found"
echo "x" > "$HOME/can-write" && echo "writable" >> "$EXFIL/check-write"
exit 0
