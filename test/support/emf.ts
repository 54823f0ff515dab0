/** Captures the CloudWatch Embedded Metric Format lines written to stdout while a test runs. */
export function captureEmf() {
  const lines: Record<string, unknown>[] = [];
  const spy = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n')) {
        if (line.includes('"_aws"')) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      return true;
    });
  return { lines, restore: () => spy.mockRestore() };
}

/** The metric names an EMF line declares. */
export function metricNames(line: Record<string, unknown>): string[] {
  const aws = line._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
  return aws.CloudWatchMetrics.flatMap((block) => block.Metrics.map((metric) => metric.Name));
}
