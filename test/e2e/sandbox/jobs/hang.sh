#!/bin/bash
# A job whose handler is killed mid-job: it holds a token in its checkout and a daemon.
W=$(dirname "$(dirname "$HOME")")
echo "KILLED_JOB_TOKEN" > "$HOME/.git-credentials"
( setsid bash -c "while :; do date +%s%3N >> '$EXFIL/heartbeat-killed'; sleep 0.05; done" </dev/null >/dev/null 2>&1 & ) &
for i in $(seq 1 200); do [ -s "$EXFIL/heartbeat-killed" ] && break; sleep 0.05; done
date +%s%3N > "$EXFIL/hang-started"
sleep 1000
