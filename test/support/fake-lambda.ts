// A model of Lambda's control plane and its execution environments, after AWS's documented
// semantics: every version (and $LATEST) has environments of its own, never shared with another
// version; a warm environment of a version serves that version's next event; updating a
// function's configuration locks it (LastUpdateStatus InProgress) for about a second, and
// another update or a publish meanwhile is refused (ResourceConflictException); a published
// version is Pending for about a second, and cannot be invoked until Active; publishing with
// nothing changed since the last version returns that version. Time is a simulated clock the
// caller advances, so a suite never waits on wall time.

export class SimulatedClock {
  private ms = Date.parse('2026-12-02T00:00:00Z');
  now = (): number => this.ms;
  /** Advances the clock: what a caller's sleep does. */
  sleep = async (ms: number): Promise<void> => {
    this.ms += ms;
    await Promise.resolve();
  };
}

class AwsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Config {
  variables: Record<string, string>;
  updatedUntil: number;
  revision: number;
}

interface Version {
  readonly number: string;
  readonly configHash: string;
  readonly activeAt: number;
  eventInvokeConfig?: Record<string, unknown>;
  deleted: boolean;
}

interface Environment {
  readonly id: number;
  readonly qualifier: string;
  readonly events: unknown[];
  busy: boolean;
}

interface FunctionState {
  latest: Config;
  versions: Version[];
  eventInvokeConfig?: Record<string, unknown>;
}

export class FakeLambda {
  readonly functions = new Map<string, FunctionState>();
  readonly environments: Environment[] = [];
  /** Control-plane calls by operation, for the per-job cost. */
  readonly calls = new Map<string, number>();
  /** Every asynchronous invocation accepted: the event and where it ran. */
  readonly invocations: {
    functionName: string;
    qualifier: string;
    environment: number;
    event: unknown;
  }[] = [];
  private nextEnvironment = 1;

  constructor(
    private readonly clock: { now(): number },
    private readonly latency = { updateMs: 1000, publishMs: 1000 },
  ) {}

  addFunction(
    name: string,
    variables: Record<string, string>,
    eventInvokeConfig: Record<string, unknown>,
  ) {
    this.functions.set(name, {
      latest: { variables, updatedUntil: 0, revision: 1 },
      versions: [],
      eventInvokeConfig,
    });
  }

  private count(operation: string) {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
  }

  private fn(name: string | undefined): FunctionState {
    const state = this.functions.get(name ?? '');
    if (!state) throw new AwsError('ResourceNotFoundException', `Function not found: ${name}`);
    return state;
  }

  private version(state: FunctionState, qualifier: string, name: string): Version {
    const found = state.versions.find((v) => v.number === qualifier && !v.deleted);
    if (!found)
      throw new AwsError('ResourceNotFoundException', `Function not found: ${name}:${qualifier}`);
    return found;
  }

  getFunctionConfiguration(input: { FunctionName?: string; Qualifier?: string }) {
    this.count('GetFunctionConfiguration');
    const state = this.fn(input.FunctionName);
    const now = this.clock.now();
    if (input.Qualifier && input.Qualifier !== '$LATEST') {
      const version = this.version(state, input.Qualifier, input.FunctionName!);
      return {
        FunctionName: input.FunctionName,
        Version: version.number,
        State: now >= version.activeAt ? 'Active' : 'Pending',
      };
    }
    return {
      FunctionName: input.FunctionName,
      Version: '$LATEST',
      State: 'Active',
      LastUpdateStatus: now >= state.latest.updatedUntil ? 'Successful' : 'InProgress',
      RevisionId: String(state.latest.revision),
      Environment: { Variables: { ...state.latest.variables } },
    };
  }

  updateFunctionConfiguration(input: {
    FunctionName?: string;
    Environment?: { Variables?: Record<string, string> };
  }) {
    this.count('UpdateFunctionConfiguration');
    const state = this.fn(input.FunctionName);
    this.refuseWhileUpdating(state, input.FunctionName!);
    state.latest = {
      variables: { ...(input.Environment?.Variables ?? {}) },
      updatedUntil: this.clock.now() + this.latency.updateMs,
      revision: state.latest.revision + 1,
    };
    return { LastUpdateStatus: 'InProgress', RevisionId: String(state.latest.revision) };
  }

  private refuseWhileUpdating(state: FunctionState, name: string) {
    if (this.clock.now() < state.latest.updatedUntil)
      throw new AwsError(
        'ResourceConflictException',
        `The operation cannot be performed at this time. An update is in progress for resource: ${name}`,
      );
  }

  publishVersion(input: { FunctionName?: string; RevisionId?: string }) {
    this.count('PublishVersion');
    const state = this.fn(input.FunctionName);
    this.refuseWhileUpdating(state, input.FunctionName!);
    if (input.RevisionId && input.RevisionId !== String(state.latest.revision))
      throw new AwsError('PreconditionFailedException', 'The RevisionId does not match');
    const configHash = JSON.stringify(state.latest.variables);
    const last = state.versions.at(-1);
    // Nothing changed since the last version: Lambda returns that version.
    if (last && last.configHash === configHash) return { Version: last.number, State: 'Active' };
    const version: Version = {
      number: String(state.versions.length + 1),
      configHash,
      activeAt: this.clock.now() + this.latency.publishMs,
      deleted: false,
    };
    state.versions.push(version);
    return { Version: version.number, State: 'Pending' };
  }

  getFunctionEventInvokeConfig(input: { FunctionName?: string; Qualifier?: string }) {
    this.count('GetFunctionEventInvokeConfig');
    const state = this.fn(input.FunctionName);
    const config = input.Qualifier
      ? this.version(state, input.Qualifier, input.FunctionName!).eventInvokeConfig
      : state.eventInvokeConfig;
    if (!config) throw new AwsError('ResourceNotFoundException', 'No event invoke config');
    return { ...config };
  }

  putFunctionEventInvokeConfig(
    input: { FunctionName?: string; Qualifier?: string } & Record<string, unknown>,
  ) {
    this.count('PutFunctionEventInvokeConfig');
    const state = this.fn(input.FunctionName);
    const { FunctionName: _name, Qualifier, ...config } = input;
    void _name;
    if (Qualifier) this.version(state, Qualifier, input.FunctionName!).eventInvokeConfig = config;
    else state.eventInvokeConfig = config;
    return config;
  }

  deleteFunction(input: { FunctionName?: string; Qualifier?: string }) {
    this.count('DeleteFunction');
    const state = this.fn(input.FunctionName);
    if (!input.Qualifier) throw new Error('the fake deletes versions only');
    this.version(state, input.Qualifier, input.FunctionName!).deleted = true;
    return {};
  }

  listVersionsByFunction(input: { FunctionName?: string }) {
    this.count('ListVersionsByFunction');
    const state = this.fn(input.FunctionName);
    return {
      Versions: [
        { Version: '$LATEST' },
        ...state.versions
          .filter((v) => !v.deleted)
          .map((v) => ({ Version: v.number, LastModified: new Date(v.activeAt).toISOString() })),
      ],
    };
  }

  /**
   * An asynchronous invoke: the event goes to an idle environment of that qualifier, else a new
   * one. Environments of other versions never see it.
   */
  invoke(input: {
    FunctionName?: string;
    Qualifier?: string;
    InvocationType?: string;
    Payload?: Uint8Array;
  }) {
    const state = this.fn(input.FunctionName);
    const qualifier = input.Qualifier ?? '$LATEST';
    if (qualifier !== '$LATEST') {
      const version = this.version(state, qualifier, input.FunctionName!);
      if (this.clock.now() < version.activeAt)
        throw new AwsError('ResourceNotReadyException', 'The function is not active');
    }
    const event = JSON.parse(Buffer.from(input.Payload ?? new Uint8Array()).toString() || 'null');
    let environment = this.environments.find(
      (candidate) =>
        candidate.qualifier === `${input.FunctionName}:${qualifier}` && !candidate.busy,
    );
    if (!environment) {
      environment = {
        id: this.nextEnvironment++,
        qualifier: `${input.FunctionName}:${qualifier}`,
        events: [],
        busy: false,
      };
      this.environments.push(environment);
    }
    environment.events.push(event);
    environment.busy = true;
    this.invocations.push({
      functionName: input.FunctionName!,
      qualifier,
      environment: environment.id,
      event,
    });
    return { StatusCode: 202 };
  }

  /** The invocation ended: its environment is idle (warm) again, and its destination is due. */
  finish(invocation: { environment: number }) {
    const environment = this.environments.find((e) => e.id === invocation.environment)!;
    environment.busy = false;
  }

  /** The invocation of `functionName:version` ($LATEST when none) ended: its environment is idle. */
  finishQualified(functionName: string, version = '$LATEST') {
    const environment = this.environments.find(
      (e) => e.qualifier === `${functionName}:${version}` && e.busy,
    );
    if (environment) environment.busy = false;
  }

  /** Versions not deleted, by function. */
  liveVersions(name: string): string[] {
    return this.fn(name)
      .versions.filter((v) => !v.deleted)
      .map((v) => v.number);
  }

  /**
   * A Lambda client answered by this model: each command goes to the method of its name
   * (`PublishVersionCommand` to `publishVersion`), as the real client sends it to the service.
   */
  client(): { send(command: { input: object }): Promise<unknown> } {
    return {
      send: async (command) => {
        const name = command.constructor.name.replace(/Command$/, '');
        const method = (this as unknown as Record<string, unknown>)[
          name.charAt(0).toLowerCase() + name.slice(1)
        ];
        if (typeof method !== 'function') throw new Error(`the fake has no ${name}`);
        return (method as (input: object) => unknown).call(this, command.input);
      },
    };
  }
}
