/** One log record, as pino writes it (a CloudWatch export may put a timestamp before the JSON). */
type LogRecord = Record<string, unknown> & { time?: number; msg?: string };

const BROKER_STEPS: Record<string, (record: LogRecord) => string> = {
  'runner started': (r) =>
    `broker: runner ${String(r.runnerName)} registered (id ${String(r.runnerId ?? 'by name')}) and started`,
  'runner registration deleted': () => 'broker: registration deleted',
  'runner settled': (r) =>
    `broker: runner ${String(r.runnerName)} ended (${String(r.condition ?? 'unknown')}); job ${String(r.jobStatus)}${r.jobConclusion ? `, ${String(r.jobConclusion)} (GitHub's word)` : ''}`,
  'dead letter replayed': (r) =>
    `broker: replayed from its dead-letter queue (${JSON.stringify(r.outcome)})`,
  'dead letter failed again: put back': (r) =>
    `broker: replay ${Number(r.replays) + 1} failed; kept for the next run`,
  'job still queued: dispatched again': (r) =>
    `broker: the job still waits: dispatched again (${String(r.outcome)})`,
  'waits in its queue for GitHub rate limit window': (r) =>
    `broker: GitHub asked to wait; the job waits in its queue ${String(r.waitSeconds)} s, hidden from every broker`,
};

/** Which function's log group a file was exported from; `unknown` for a file given untagged. */
export type LogSource = 'webhook' | 'broker' | 'runner' | 'unknown';

type Step = (record: LogRecord, source: LogSource) => string | undefined;

/**
 * What each kind of line tells, and from which functions it is believed. A runner's log group
 * holds what its job printed too (a job can write to the runtime's output), so a webhook or
 * broker step is told only from those functions' own logs, never from a runner's.
 */
const STEPS: [readonly LogSource[], Step][] = [
  [['broker'], (r) => BROKER_STEPS[String(r.msg)]?.(r)],
  [
    ['broker'],
    (r) => (String(r.msg).startsWith('no runner: ') ? `broker: ${String(r.msg)}` : undefined),
  ],
  [
    ['webhook', 'broker'],
    (r, source) =>
      r.decision
        ? `${source === 'broker' ? 'broker' : 'webhook'}: ${String(r.decision)}${r.reason ? ` (${String(r.reason)})` : ''}`
        : undefined,
  ],
  [['runner'], (r) => (typeof r.line === 'string' && r.line ? `listener: ${r.line}` : undefined)],
  [
    ['runner'],
    (r) =>
      'outcome' in r
        ? `runner says it ended: ${String(r.outcome)}${r.jobResult ? `, job ${String(r.jobResult)}` : ''}${r.error ? ` (${String(r.error)})` : ''} (the job's own word)`
        : undefined,
  ],
  [
    ['webhook', 'broker', 'runner'],
    (r, source) =>
      r.level !== undefined && Number(r.level) >= 40
        ? `${source}: ${Number(r.level) >= 50 ? 'error' : 'warning'}: ${String(r.msg)}`
        : undefined,
  ],
];

/** The step a record tells; from an untagged file, marked as of unknown source. */
function tell(record: LogRecord, source: LogSource): string | undefined {
  if (source !== 'unknown') {
    for (const [from, step] of STEPS) {
      const told = from.includes(source) ? step(record, source) : undefined;
      if (told) return told;
    }
    return undefined;
  }
  for (const [, step] of STEPS) {
    const told = step(record, 'unknown');
    if (told) return `${told}  [source unknown: anything a runner printed could say this]`;
  }
  return undefined;
}

/**
 * Tells the story of one job across the functions from exported log lines: the webhook's
 * decision, the broker's registration and settling, what the listener printed, and how it
 * ended. Each input names the function whose log group it was exported from.
 */
export function jobStory(
  inputs: string | readonly { source: LogSource; text: string }[],
  jobId: number,
): string[] {
  const files =
    typeof inputs === 'string' ? [{ source: 'unknown' as const, text: inputs }] : inputs;
  const records = files
    .flatMap(({ source, text }) =>
      text
        .split('\n')
        .map(parseRecord)
        .filter(
          (record): record is LogRecord => record !== undefined && Number(record.jobId) === jobId,
        )
        .map((record) => ({ record, source })),
    )
    .sort((a, b) => (a.record.time ?? 0) - (b.record.time ?? 0));
  if (records.length === 0)
    return [
      `no log line mentions job ${jobId}: was the delivery received? (check the webhook's logs and GitHub's delivery log)`,
    ];
  return records.flatMap(({ record, source }) => {
    const step = tell(record, source);
    return step ? [`${new Date(record.time ?? 0).toISOString()}  ${step}`] : [];
  });
}

function parseRecord(line: string): LogRecord | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(line.slice(start)) as LogRecord;
  } catch {
    return undefined;
  }
}
