/** One log record, as pino writes it (a CloudWatch export may put a timestamp before the JSON). */
type LogRecord = Record<string, unknown> & { time?: number; msg?: string };

const BROKER_STEPS: Record<string, (record: LogRecord) => string> = {
  'runner started': (r) =>
    `broker: runner ${String(r.runnerName)} registered (id ${String(r.runnerId ?? 'by name')}) and started`,
  'runner registration deleted': () => 'broker: registration deleted',
  'runner settled': (r) =>
    `broker: runner ${String(r.runnerName)} ended (${String(r.condition ?? 'unknown')}); job ${String(r.jobStatus)}`,
  'dead letter replayed': (r) =>
    `broker: replayed from its dead-letter queue (${JSON.stringify(r.outcome)})`,
  'dead letter failed again: put back': (r) =>
    `broker: replay ${Number(r.replays) + 1} failed; kept for the next run`,
  'job still queued: dispatched again': (r) =>
    `broker: the job still waits: dispatched again (${String(r.outcome)})`,
};

const STEPS: [string, (record: LogRecord) => string | undefined][] = [
  ['broker', (r) => BROKER_STEPS[String(r.msg)]?.(r)],
  [
    'no runner',
    (r) => (String(r.msg).startsWith('no runner: ') ? `broker: ${String(r.msg)}` : undefined),
  ],
  [
    'decision',
    (r) =>
      r.decision ? `webhook: ${r.decision}${r.reason ? ` (${String(r.reason)})` : ''}` : undefined,
  ],
  ['line', (r) => (typeof r.line === 'string' && r.line ? `listener: ${r.line}` : undefined)],
  [
    'outcome',
    (r) =>
      'outcome' in r
        ? `runner ended: ${String(r.outcome)}${r.error ? ` (${String(r.error)})` : ''}`
        : undefined,
  ],
  [
    'other',
    (r) =>
      r.level !== undefined && Number(r.level) >= 40
        ? `${Number(r.level) >= 50 ? 'error' : 'warning'}: ${String(r.msg)}`
        : undefined,
  ],
];

/**
 * Tells the story of one job across both functions from exported log lines: the webhook's
 * decision, the broker's registration and settling, what the listener printed, and how it ended.
 */
export function jobStory(text: string, jobId: number): string[] {
  const records = text
    .split('\n')
    .map(parseRecord)
    .filter((record): record is LogRecord => record !== undefined && Number(record.jobId) === jobId)
    .sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
  if (records.length === 0)
    return [
      `no log line mentions job ${jobId}: was the delivery received? (check the webhook's logs and GitHub's delivery log)`,
    ];
  return records.flatMap((record) => {
    const step = STEPS.map(([, describe]) => describe(record)).find(Boolean);
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
