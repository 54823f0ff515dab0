/**
 * What the broker checks before it reads an event at all. Anyone holding the runner role (so any
 * job) can put any JSON on the settle queue; an event too deep or too big is refused here, with a
 * log line, before a recursive walk (the seal's canonical form, a field check) could throw on it
 * and send it round Lambda's retries and the dead-letter queue. The broker's own events are
 * a few levels deep and a few kilobytes.
 */
export interface ShapeLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
  readonly maxTextBytes: number;
}

export const EVENT_LIMITS: ShapeLimits = { maxDepth: 12, maxNodes: 4000, maxTextBytes: 256 * 1024 };

/** Why the event's shape is refused, or undefined. Walks it without recursion. */
export function shapeProblem(
  event: unknown,
  limits: ShapeLimits = EVENT_LIMITS,
): string | undefined {
  const pending: [unknown, number][] = [[event, 1]];
  const seen = { nodes: 0, textBytes: 0 };
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    const problem = tally(value, depth, seen, limits);
    if (problem) return problem;
    if (typeof value === 'object' && value !== null)
      for (const [key, item] of Object.entries(value)) {
        seen.textBytes += key.length;
        pending.push([item, depth + 1]);
      }
  }
  return undefined;
}

function tally(
  value: unknown,
  depth: number,
  seen: { nodes: number; textBytes: number },
  limits: ShapeLimits,
): string | undefined {
  seen.nodes += 1;
  if (typeof value === 'string') seen.textBytes += value.length;
  if (depth > limits.maxDepth) return `nested deeper than ${limits.maxDepth} levels`;
  if (seen.nodes > limits.maxNodes) return `more than ${limits.maxNodes} values`;
  if (seen.textBytes > limits.maxTextBytes) return `more than ${limits.maxTextBytes} bytes of text`;
  return undefined;
}
