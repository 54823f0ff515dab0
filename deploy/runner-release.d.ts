// Types of runner-release.js (CommonJS, loaded as is by serverless), for the TypeScript that
// shares it: runner-update, status and the broker's daily check.
export interface RunnerRelease {
  readonly version: string;
  readonly publishedAt: string;
  readonly sha256: { readonly x64?: string; readonly arm64?: string };
}
export type Request = (
  route: string,
  params?: Record<string, unknown>,
) => Promise<{ data: unknown }>;

export const MINIMUM_VERSION: string;
export const MAX_DAYS_BEHIND: number;
export const ALARM_DAYS_BEHIND: number;
export function compareVersions(a: string, b: string): number;
export function releaseFromApi(data: unknown): RunnerRelease;
export function fetchReleases(request: Request): Promise<RunnerRelease[]>;
export function daysBehind(
  version: string,
  releases: readonly RunnerRelease[],
  now: number,
): number;
export function releaseProblems(
  lock: RunnerRelease,
  releases: readonly RunnerRelease[],
  options: { now: number; allowStale?: boolean },
): string[];
export function describeChange(before: RunnerRelease | undefined, after: RunnerRelease): string[];
