#!/bin/bash
# The next job: it holds a secret in its environment and in its checkout, the way a job holds
# GITHUB_TOKEN and the token in .git/config, and keeps them there for a while.
export NEXT_JOB_SECRET="NEXT_JOB_SECRET_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "$NEXT_JOB_SECRET" > "$EXFIL/victim-secret"
mkdir -p repo/.git
printf '[http]\n\textraheader = AUTHORIZATION: basic %s\n' "$NEXT_JOB_SECRET" > repo/.git/config
date +%s%3N > "$EXFIL/victim-started"
sleep 1.5
exit 0
