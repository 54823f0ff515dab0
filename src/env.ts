/** Helpers that parse one environment variable each and record a problem instead of throwing. */

/** pino's levels: the values `LOG_LEVEL` accepts on every side. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type Env = Readonly<Record<string, string | undefined>>;

export interface EnvReader {
  readonly problems: string[];
  string(name: string): string | undefined;
  /** The value, or `fallback` when unset. */
  text(name: string, fallback: string): string;
  list(name: string, fallback?: string): string[];
  bool(name: string, fallback: boolean): boolean;
  int(name: string, fallback: number, min?: number): number;
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T;
}

/** Reads variables from `env`, trimming values and treating empty strings as unset. */
export function createEnvReader(env: Env): EnvReader {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  return {
    problems,
    string: (name) => read(name),
    text: (name, fallback) => read(name) ?? fallback,
    list: (name, fallback) =>
      (read(name) ?? fallback ?? '')
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    bool(name, fallback) {
      const value = read(name)?.toLowerCase();
      if (value === undefined) return fallback;
      if (value === 'true' || value === 'false') return value === 'true';
      problems.push(`${name} must be "true" or "false", got "${value}"`);
      return fallback;
    },
    int(name, fallback, min = 0) {
      const value = read(name);
      if (value === undefined) return fallback;
      const parsed = Number(value);
      if (Number.isInteger(parsed) && parsed >= min) return parsed;
      problems.push(`${name} must be an integer >= ${min}, got "${value}"`);
      return fallback;
    },
    oneOf(name, values, fallback) {
      const value = read(name);
      if (value === undefined) return fallback;
      if ((values as readonly string[]).includes(value)) return value as (typeof values)[number];
      problems.push(`${name} must be one of ${values.join(', ')}, got "${value}"`);
      return fallback;
    },
  };
}

/** True when this process runs inside AWS Lambda (the runtime sets this variable). */
export function isLambda(env: Env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}
