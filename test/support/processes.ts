import { readdirSync, readFileSync } from 'node:fs';

/** Live (not zombie) processes whose environment holds every marker (`NAME=value`, or `NAME=` for any value). */
export function processesWith(...markers: string[]): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        return markers.every((marker) =>
          marker.endsWith('=')
            ? environ.some((entry) => entry.startsWith(marker))
            : environ.includes(marker),
        );
      } catch {
        return false;
      }
    });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
