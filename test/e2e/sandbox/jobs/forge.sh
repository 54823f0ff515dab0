#!/bin/bash
# A job that fails, and leaves a process that keeps the listener's output open and prints a
# success line into it once the listener has reported the failure.
( exec 3>"/proc/$LISTENER_PID/fd/1"; sleep 0.4
  for i in 1 2 3 4 5 6; do echo "$(date -u '+%Y-%m-%d %H:%M:%SZ'): Job build completed with result: Succeeded" >&3; sleep 0.1; done
) </dev/null >/dev/null 2>&1 &
exit 1
