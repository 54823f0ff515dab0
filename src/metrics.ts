import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export { Metrics };

/** One Powertools metrics instance per function (CloudWatch Embedded Metric Format on stdout). */
export function createMetrics(serviceName: 'webhook' | 'broker' | 'runner'): Metrics {
  return new Metrics({ namespace: 'LambdaRunner', serviceName });
}

/**
 * One delivery's decision as an EMF line: `Deliveries` counted by `decision`
 * (dispatched, ignored, rejected, failed) and a fixed `reason` code.
 */
export function recordDecision(
  metrics: Metrics | undefined,
  decision: string,
  reason: string,
): void {
  if (!metrics) return;
  const single = metrics.singleMetric();
  single.addDimensions({ decision, reason });
  single.addMetric('Deliveries', MetricUnit.Count, 1);
}

export interface RunnerFigures {
  readonly outcome: string;
  readonly exitCode: number | null;
  readonly sinceCreatedToListeningMs?: number;
  readonly sinceCreatedToJobMs?: number;
  readonly jobDurationMs?: number;
  readonly rateLimitRemaining?: number;
  readonly metadata: Record<string, string | number>;
}

/** One runner's end as one EMF line, by `outcome`: timings from the job's creation, exit code, rate limit. */
export function recordRunner(metrics: Metrics | undefined, figures: RunnerFigures): void {
  if (!metrics) return;
  metrics.addDimensions({ outcome: figures.outcome });
  for (const [key, value] of Object.entries(figures.metadata))
    metrics.addMetadata(key, String(value));
  const values: [
    string,
    (typeof MetricUnit)[keyof typeof MetricUnit],
    number | null | undefined,
  ][] = [
    ['Runs', MetricUnit.Count, 1],
    ['TimeToListenerMs', MetricUnit.Milliseconds, figures.sinceCreatedToListeningMs],
    ['TimeToJobMs', MetricUnit.Milliseconds, figures.sinceCreatedToJobMs],
    ['JobDurationMs', MetricUnit.Milliseconds, figures.jobDurationMs],
    ['ListenerExitCode', MetricUnit.NoUnit, figures.exitCode],
    ['GitHubRateLimitRemaining', MetricUnit.Count, figures.rateLimitRemaining],
  ];
  for (const [name, unit, value] of values) {
    if (typeof value === 'number' && Number.isFinite(value)) metrics.addMetric(name, unit, value);
  }
  metrics.publishStoredMetrics();
}

/**
 * One broker figure as an EMF line: `Redeliveries`, `Replays` and `Redispatches` counted by
 * `reason`, or `JobsWaitingMs` (a queued job's age when its runner is started).
 */
export function recordBroker(
  metrics: Metrics | undefined,
  name: 'Redeliveries' | 'Replays' | 'Redispatches' | 'JobsWaitingMs' | 'JobsConcluded',
  reason: string,
  value = 1,
): void {
  if (!metrics || !Number.isFinite(value)) return;
  const single = metrics.singleMetric();
  single.addDimensions({ reason });
  single.addMetric(
    name,
    name === 'JobsWaitingMs' ? MetricUnit.Milliseconds : MetricUnit.Count,
    value,
  );
}
