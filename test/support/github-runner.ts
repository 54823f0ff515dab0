/** A self-hosted runner as GitHub's REST API describes it (`GET .../actions/runners/{id}`). */
export function describeRunner(runner: {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly busy: boolean;
  readonly labels: readonly string[];
}) {
  return {
    id: runner.id,
    name: runner.name,
    os: 'linux',
    status: runner.status,
    busy: runner.busy,
    labels: runner.labels.map((name, index) => ({ id: index + 1, name, type: 'custom' as const })),
  };
}
