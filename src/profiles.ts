import defaultLabels from './default-runner-labels.json';

/** A runner profile: which job labels it serves and which runner function starts its runners. */
export interface RunnerProfile {
  readonly name: string;
  /** Labels the runner carries; a job is served when all its labels are among them. */
  readonly labels: readonly string[];
  readonly functionName: string;
  readonly scope?: 'repo' | 'org';
  readonly group?: string;
  /** What starts its runners (the broker's executor kinds); `lambda` by default. */
  readonly executor?: string;
  /**
   * `version` (the deployed default): each runner event goes to a function version of its own,
   * an execution environment no other job ever reaches. `shared`: warm environments serve one
   * job after another (cleaned between jobs), for a single trust domain only.
   */
  readonly isolation?: 'version' | 'shared';
  /** Executor `codebuild`: the CodeBuild project that runs each job in a build of its own. */
  readonly projectName?: string;
  /** Executor `codebuild`: the build's limit, the job's longest run (CodeBuild allows 8 hours). */
  readonly timeoutMinutes?: number;
  /** Executor `codebuild`: the compute type (`BUILD_GENERAL1_MEDIUM`, `BUILD_LAMBDA_4GB`, ...). */
  readonly computeType?: string;
  /** Executor `codebuild`: whether the build runs `dockerd` (privileged mode, EC2 compute). */
  readonly docker?: boolean;
}

/** The default profile's labels: what the runner image carries (shared with deploy/profiles.js). */
export const DEFAULT_RUNNER_LABELS = defaultLabels.join(',');

/**
 * Parses `RUNNER_PROFILES` (a JSON array). Records a problem for each invalid entry and
 * returns the valid ones, so configuration errors are reported all at once.
 */
export function parseProfiles(json: string, problems: string[]): RunnerProfile[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    problems.push('RUNNER_PROFILES must be a JSON array of {name, labels, functionName}');
    return [];
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push('RUNNER_PROFILES must be a non-empty JSON array');
    return [];
  }
  return raw.flatMap((entry: unknown, index) => {
    const profile = toProfile(entry);
    if (typeof profile === 'string') {
      problems.push(`RUNNER_PROFILES[${index}]: ${profile}`);
      return [];
    }
    return [profile];
  });
}

function toProfile(entry: unknown): RunnerProfile | string {
  if (typeof entry !== 'object' || entry === null) return 'must be an object';
  const fields = entry as Record<string, unknown>;
  const name = typeof fields.name === 'string' && fields.name ? fields.name : undefined;
  if (!name) return 'name must be a non-empty string';
  const problem = profileChecks(fields).find(([ok]) => !ok);
  if (problem) return `profile "${name}": ${problem[1]}`;
  return { functionName: 'local', ...fields } as unknown as RunnerProfile;
}

function profileChecks(fields: Record<string, unknown>): [boolean, string][] {
  return [
    [isLabelList(fields.labels), 'labels must be a non-empty array of strings'],
    [
      fields.functionName === undefined || isNonEmptyString(fields.functionName),
      'functionName must be a non-empty string',
    ],
    [[undefined, 'repo', 'org'].includes(fields.scope as string), 'scope must be "repo" or "org"'],
    [fields.group === undefined || typeof fields.group === 'string', 'group must be a string'],
    [fields.executor === undefined || isNonEmptyString(fields.executor), 'executor must be a name'],
    [
      [undefined, 'version', 'shared'].includes(fields.isolation as string),
      'isolation must be "version" or "shared"',
    ],
    [
      fields.executor !== 'codebuild' || isNonEmptyString(fields.projectName),
      'executor "codebuild" needs projectName',
    ],
    [
      fields.timeoutMinutes === undefined ||
        (Number.isInteger(fields.timeoutMinutes) && (fields.timeoutMinutes as number) >= 5),
      'timeoutMinutes must be a whole number of minutes, at least 5',
    ],
    [fields.docker === undefined || typeof fields.docker === 'boolean', 'docker must be a boolean'],
  ];
}

function isLabelList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every(isNonEmptyString);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}
