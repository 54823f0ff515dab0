/** One log record, as pino writes it (a CloudWatch export may put a timestamp before the JSON). */
type LogRecord = Record<string, unknown> & { time?: number; msg?: string };

const STEPS: [string, (record: LogRecord) => string | undefined][] = [
  [
    'decision',
    (r) =>
      r.decision ? `webhook: ${r.decision}${r.reason ? ` (${String(r.reason)})` : ''}` : undefined,
  ],
  [
    'runner',
    (r) =>
      r.msg === 'runner registered'
        ? `runner ${String(r.runnerName)} registered (id ${String(r.runnerId)})`
        : undefined,
  ],
  ['line', (r) => (typeof r.line === 'string' && r.line ? `listener: ${r.line}` : undefined)],
  [
    'removed',
    (r) =>
      r.msg === 'runner registration removed'
        ? `registration ${r.deleted ? 'deleted' : 'already gone'}`
        : undefined,
  ],
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
 * decision, the runner's registration, what the listener printed, and how it ended.
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
