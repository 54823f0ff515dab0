import { verifyAppJwt } from '../github-app';
import { encodeJitConfig } from '../github-app';
import { describeRunner } from '../github-runner';

/**
 * GitHub's REST API for the routes the broker uses, enforcing GitHub's documented limits on a
 * virtual clock (see docs.github.com, "Rate limits for the REST API"):
 * - primary: 5,000 requests an hour per installation (and per App, for its JWT calls), with
 *   `x-ratelimit-*` headers on every answer and a 403 at zero until the reset;
 * - secondary: 900 points a minute per caller (a GET 1, a write 5), 100 concurrent requests per
 *   caller, 10,000 runner registrations an hour; refused with 403 or 429 (alternately) and
 *   `retry-after`.
 * A caller GitHub told to wait that calls again inside its window is refused again, and the call
 * is counted as a violation: GitHub may ban an integration that keeps doing so.
 */
export interface LimitedGitHubOptions {
  readonly apps: readonly {
    readonly appId: string;
    readonly publicKey: string;
    readonly installationId: number;
  }[];
  /** Virtual milliseconds each answer takes. */
  readonly latencyMs?: number;
  readonly hourly?: number;
  readonly pointsPerMinute?: number;
  readonly concurrent?: number;
  readonly registrationsPerHour?: number;
}

export interface GitHubCall {
  readonly caller: string;
  readonly container: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly at: number;
  /** Made while GitHub had told this caller to wait. */
  readonly insideWindow: boolean;
}

export interface Job {
  readonly id: number;
  readonly installationId: number;
  status: 'queued' | 'in_progress' | 'completed';
  runnerName?: string;
  /** When a runner took it (virtual ms). */
  startedAt?: number;
}

export interface Runner {
  readonly id: number;
  readonly name: string;
  readonly repo: string;
  readonly createdAt: number;
  busy: boolean;
  status: 'online' | 'offline';
  readonly labels: readonly string[];
}

interface Registration {
  readonly name: string;
  readonly labels?: readonly string[];
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
const NOT_FOUND: Answer = { status: 404, body: { message: 'Not Found' } };

interface SimRequest {
  readonly method: string;
  readonly url: URL;
  readonly authorization: string;
  readonly body: object;
}

function requestOf(input: string | URL | Request, init?: RequestInit): SimRequest {
  return {
    method: (init?.method ?? 'GET').toUpperCase(),
    url: new URL(typeof input === 'string' ? input : input.toString()),
    authorization: new Headers(init?.headers).get('authorization') ?? '',
    body: typeof init?.body === 'string' ? (JSON.parse(init.body) as object) : {},
  };
}

const HOUR = 3600_000;
const MINUTE = 60_000;

export class LimitedGitHub {
  readonly calls: GitHubCall[] = [];
  readonly jobs = new Map<number, Job>();
  readonly runners = new Map<number, Runner>();
  /** Installation tokens minted, by container and installation. */
  readonly mints = new Map<string, number>();
  private readonly tokens = new Map<string, number>();
  private readonly windows = new Map<string, number>();
  private readonly hours = new Map<string, { reset: number; used: number }>();
  private readonly points = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private registrations = { hour: -1, count: 0 };
  private nextRunnerId = 1;
  private refusals = 0;
  private readonly latencyMs: number;
  private readonly hourly: number;
  private readonly pointsPerMinute: number;
  private readonly concurrent: number;
  private readonly registrationsPerHour: number;

  constructor(private readonly options: LimitedGitHubOptions) {
    this.latencyMs = options.latencyMs ?? 100;
    this.hourly = options.hourly ?? 5000;
    this.pointsPerMinute = options.pointsPerMinute ?? 900;
    this.concurrent = options.concurrent ?? 100;
    this.registrationsPerHour = options.registrationsPerHour ?? 10_000;
  }

  /** A `fetch` for one broker container: its calls are counted as that container's. */
  fetchFor(container: string, alive: () => boolean = () => true): typeof fetch {
    return (async (input: string | URL | Request, init?: RequestInit) => {
      if (!alive()) throw new Error(`${container} was stopped (its Lambda timed out)`);
      const answer = await this.answer(container, requestOf(input, init));
      return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
        status: answer.status,
        headers: new Headers({ 'content-type': 'application/json', ...answer.headers }),
      });
    }) as typeof fetch;
  }

  private async answer(container: string, request: SimRequest): Promise<Answer> {
    const { method, url, body } = request;
    const caller = this.callerOf(request.authorization);
    if (!caller) return { status: 401, body: { message: 'Bad credentials' } };
    const at = Date.now();
    const path = url.pathname;
    const insideWindow = (this.windows.get(caller) ?? 0) > at;
    const refused = this.refusal(caller, method, path, at);
    if (refused) {
      this.calls.push({
        caller,
        container,
        method,
        path,
        status: refused.status,
        at,
        insideWindow,
      });
      return refused;
    }
    this.inFlight.set(caller, (this.inFlight.get(caller) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    this.inFlight.set(caller, (this.inFlight.get(caller) ?? 1) - 1);
    const answer = this.route(caller, container, method, url, body);
    this.calls.push({ caller, container, method, path, status: answer.status, at, insideWindow });
    return { ...answer, headers: { ...this.primaryHeaders(caller, at), ...answer.headers } };
  }

  /** The caller's limit answer, if a limit refuses this call (and the window it opens). */
  private refusal(caller: string, method: string, path: string, at: number): Answer | undefined {
    const open = this.windows.get(caller) ?? 0;
    if (open > at) return this.limited(caller, at, open);
    const hour = this.hourOf(caller, at);
    if (hour.used >= this.hourly) return this.primaryRefusal(caller, at, hour.reset);
    const secondary = this.secondaryWindow(caller, method, path, at);
    if (secondary !== undefined) return this.limited(caller, at, secondary);
    hour.used += 1;
    return undefined;
  }

  private primaryRefusal(caller: string, at: number, reset: number): Answer {
    this.windows.set(caller, reset);
    return {
      status: 403,
      body: { message: 'API rate limit exceeded for installation.' },
      headers: this.primaryHeaders(caller, at),
    };
  }

  /** When a secondary limit this call meets lets the caller call again; undefined: none. */
  private secondaryWindow(caller: string, method: string, path: string, at: number) {
    if ((this.inFlight.get(caller) ?? 0) >= this.concurrent) return at + 1000;
    const minute = `${caller}#${Math.floor(at / MINUTE)}`;
    const cost = method === 'GET' ? 1 : 5;
    if ((this.points.get(minute) ?? 0) + cost > this.pointsPerMinute)
      return (Math.floor(at / MINUTE) + 1) * MINUTE;
    if (!this.registrationAllowed(path, at)) return (Math.floor(at / HOUR) + 1) * HOUR;
    this.points.set(minute, (this.points.get(minute) ?? 0) + cost);
    return undefined;
  }

  private registrationAllowed(path: string, at: number): boolean {
    if (!path.endsWith('/generate-jitconfig')) return true;
    const hour = Math.floor(at / HOUR);
    if (this.registrations.hour !== hour) this.registrations = { hour, count: 0 };
    if (this.registrations.count >= this.registrationsPerHour) return false;
    this.registrations.count += 1;
    return true;
  }

  /** A secondary limit: 403 and 429 in turn, with `retry-after` to the window's end. */
  private limited(caller: string, at: number, until: number): Answer {
    this.windows.set(caller, Math.max(this.windows.get(caller) ?? 0, until));
    const end = this.windows.get(caller)!;
    this.refusals += 1;
    return {
      status: this.refusals % 2 === 0 ? 429 : 403,
      body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes.' },
      headers: { 'retry-after': String(Math.max(1, Math.ceil((end - at) / 1000))) },
    };
  }

  private hourOf(caller: string, at: number) {
    let hour = this.hours.get(caller);
    if (!hour || hour.reset <= at) {
      hour = { reset: at + HOUR, used: 0 };
      this.hours.set(caller, hour);
    }
    return hour;
  }

  private primaryHeaders(caller: string, at: number): Record<string, string> {
    const hour = this.hourOf(caller, at);
    return {
      'x-ratelimit-limit': String(this.hourly),
      'x-ratelimit-remaining': String(Math.max(0, this.hourly - hour.used)),
      'x-ratelimit-reset': String(Math.ceil(hour.reset / 1000)),
    };
  }

  private callerOf(authorization: string): string | undefined {
    const credential = authorization.replace(/^(bearer|token) /i, '');
    const installation = this.tokens.get(credential);
    if (installation !== undefined) return `installation-${installation}`;
    for (const app of this.options.apps) {
      try {
        verifyAppJwt(authorization, app.publicKey);
        return `app-${app.appId}`;
      } catch {
        // not this App's
      }
    }
    return undefined;
  }

  private route(caller: string, container: string, method: string, url: URL, body: object): Answer {
    const app = this.appRoute(caller, container, `${method} ${url.pathname}`);
    if (app) return app;
    const repo = /^\/repos\/([^/]+)\/([^/]+)\/actions\/(.+)$/.exec(url.pathname);
    if (!repo) return NOT_FOUND;
    const scope = `${repo[1]}/${repo[2]}`;
    const rest = `${method} ${repo[3]}`;
    const id = Number(/\/(\d+)$/.exec(rest)?.[1]);
    const routes: [RegExp, () => Answer][] = [
      [/^GET jobs\/\d+$/, () => this.job(id)],
      [/^POST runners\/generate-jitconfig$/, () => this.register(scope, body as Registration)],
      [/^GET runners\/\d+$/, () => this.runner(scope, id)],
      [/^DELETE runners\/\d+$/, () => this.unregister(scope, id)],
      [/^GET runners$/, () => this.findRunner(scope, url)],
    ];
    return routes.find(([pattern]) => pattern.test(rest))?.[1]() ?? NOT_FOUND;
  }

  /** The App's own routes (its JWT): a token for an installation, its installation on a repo. */
  private appRoute(caller: string, container: string, call: string): Answer | undefined {
    const mint = /^POST \/app\/installations\/(\d+)\/access_tokens$/.exec(call);
    if (mint) return this.mint(container, Number(mint[1]));
    if (/^GET \/repos\/[^/]+\/[^/]+\/installation$/.test(call)) return this.installationOf(caller);
    return undefined;
  }

  /** The calling App's installation on the repository (every App is installed on it). */
  private installationOf(caller: string): Answer {
    const app = this.options.apps.find((candidate) => `app-${candidate.appId}` === caller);
    return app ? { status: 200, body: { id: app.installationId } } : NOT_FOUND;
  }

  private mint(container: string, installationId: number): Answer {
    const minter = `${container}#installation-${installationId}`;
    this.mints.set(minter, (this.mints.get(minter) ?? 0) + 1);
    const token = `ghs_${installationId}_${this.tokens.size + 1}`;
    this.tokens.set(token, installationId);
    return {
      status: 201,
      body: { token, expires_at: new Date(Date.now() + HOUR).toISOString(), permissions: {} },
    };
  }

  private job(id: number): Answer {
    const job = this.jobs.get(id);
    if (!job) return { status: 404, body: { message: 'Not Found' } };
    return {
      status: 200,
      body: {
        id,
        status: job.status,
        conclusion: job.status === 'completed' ? 'success' : null,
        runner_name: job.runnerName ?? null,
      },
    };
  }

  private register(repo: string, { name, labels }: Registration): Answer {
    if ([...this.runners.values()].some((runner) => runner.repo === repo && runner.name === name))
      return { status: 409, body: { message: 'Already exists - A runner with this name exists' } };
    const runner: Runner = {
      id: this.nextRunnerId++,
      name,
      repo,
      createdAt: Date.now(),
      busy: false,
      status: 'offline',
      labels: labels ?? [],
    };
    this.runners.set(runner.id, runner);
    return {
      status: 201,
      body: {
        runner: describeRunner(runner),
        encoded_jit_config: encodeJitConfig(runner.id, name),
      },
    };
  }

  private runner(repo: string, id: number): Answer {
    const runner = this.runners.get(id);
    if (!runner || runner.repo !== repo) return { status: 404, body: { message: 'Not Found' } };
    return { status: 200, body: describeRunner(runner) };
  }

  private unregister(repo: string, id: number): Answer {
    const runner = this.runners.get(id);
    if (!runner || runner.repo !== repo) return { status: 404, body: { message: 'Not Found' } };
    this.runners.delete(id);
    return { status: 204 };
  }

  private findRunner(repo: string, url: URL): Answer {
    const name = url.searchParams.get('name');
    const runners = [...this.runners.values()]
      .filter((runner) => runner.repo === repo && (!name || runner.name === name))
      .map((runner) => describeRunner(runner));
    return { status: 200, body: { total_count: runners.length, runners } };
  }

  /**
   * A runner's listener connects: GitHub hands it a queued job, its own if that still waits,
   * else the oldest that does (any runner with the labels may take any such job). Undefined when
   * its registration is gone or nothing waits.
   */
  connect(runnerId: number): Job | undefined {
    const runner = this.runners.get(runnerId);
    if (!runner) return undefined;
    runner.status = 'online';
    const own = this.jobs.get(Number(/^lambda-(\d+)-/.exec(runner.name)?.[1]));
    const job =
      own?.status === 'queued'
        ? own
        : [...this.jobs.values()].find((candidate) => candidate.status === 'queued');
    if (!job) return undefined;
    Object.assign(job, { status: 'in_progress', runnerName: runner.name, startedAt: Date.now() });
    runner.busy = true;
    return job;
  }

  /** The job ran to its end: completed, and its ephemeral runner removed. */
  complete(runnerId: number, job: Job): void {
    job.status = 'completed';
    this.runners.delete(runnerId);
  }

  /** The listener gave up without a job: the registration stays, offline. */
  disconnect(runnerId: number): void {
    const runner = this.runners.get(runnerId);
    if (runner) runner.status = 'offline';
  }
}
