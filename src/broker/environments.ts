import { randomUUID } from 'node:crypto';
import {
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  PutFunctionEventInvokeConfigCommand,
  UpdateFunctionConfigurationCommand,
  type GetFunctionEventInvokeConfigCommandOutput,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import type { Logger } from 'pino';
import { DispatchError } from '../errors';
import { conditionFailed } from './control-table';

/**
 * One job, one execution environment. AWS reserves an execution environment for one function
 * version and never reuses it across versions, so each runner event goes to a version of its
 * profile's function that no other event ever reaches, and the version is deleted once the
 * runner is settled. A job that squats on the Runtime API inside its sandbox waits for an event
 * that never comes.
 *
 * Publishing a version takes a configuration change (Lambda returns the last version when
 * nothing changed) and a second or two of control plane per step, serially per function (an
 * update locks it). So a few fresh, never-invoked versions per function are published ahead of
 * demand, listed in the control table, and claimed with a conditional write: two dispatches
 * never get the same one.
 *
 * Items: `pool#<function>` / `version#<n>`: `state` fresh or claimed, `deployment` (versions of
 * an earlier deployment are never claimed), `publishedAt`, `runnerName` and `claimedAt` once
 * claimed. `lock#<function>` / `publish`: who publishes now, with a lease.
 */
export interface EnvironmentPool {
  /** A version of the function no event has reached, claimed for `runnerName`. */
  claim(functionName: string, runnerName: string): Promise<string>;
  /** The version served its one job: it is deleted, with its item. */
  release(functionName: string, version: string): Promise<void>;
  /** Publishes versions until the function has its fresh ones; returns how many it published. */
  refill(functionName: string): Promise<number>;
  /** Deletes versions that leaked (claimed past their lifetime, stale, or never listed). */
  sweep(functionName: string): Promise<{ deleted: number }>;
}

export interface PoolOptions {
  readonly lambda: Pick<LambdaClient, 'send'>;
  readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  readonly tableName: string;
  /** Fresh versions kept per runner function. */
  readonly size: number;
  /** This deployment's mark (the broker's `RUNNER_DEPLOYMENT`): older versions are stale. */
  readonly deployment: string;
  /** The longest a runner event can live: a version claimed longer ago has leaked. */
  readonly lifetimeMs: number;
  readonly log: Logger;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The variable whose new value makes each version's configuration its own. */
export const ENVIRONMENT_VARIABLE = 'LAMBDA_RUNNER_ENVIRONMENT';
const LEASE_MS = 60_000;
const POLL_MS = 500;
const POLLS = 120;
/** A version not yet listed is left this long (its publisher may still be writing its item). */
const UNLISTED_GRACE_MS = 10 * 60_000;

type Item = Record<string, AttributeValue>;

export function createEnvironmentPool(options: PoolOptions): EnvironmentPool {
  const { lambda, dynamodb, tableName, log } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const asyncConfigs = new Map<string, GetFunctionEventInvokeConfigCommandOutput>();
  const itemKey = (fn: string, version: string) => ({
    pk: { S: `pool#${fn}` },
    sk: { S: `version#${version.padStart(10, '0')}` },
  });
  const expiry = () => ({ N: String(Math.floor((now() + 2 * 86_400_000) / 1000)) });

  async function items(fn: string): Promise<Item[]> {
    const found: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `pool#${fn}` } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      found.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return found;
  }

  const fresh = (item: Item) =>
    item.state?.S === 'fresh' && item.deployment?.S === options.deployment;

  async function record(fn: string, version: string, fields: Item): Promise<void> {
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          ...itemKey(fn, version),
          version: { S: version },
          deployment: { S: options.deployment },
          publishedAt: { N: String(now()) },
          expiresAt: expiry(),
          ...fields,
        },
      }),
    );
  }

  /** Takes a fresh version for `runnerName`; false if another dispatch took it first. */
  async function take(fn: string, version: string, runnerName: string): Promise<boolean> {
    try {
      await dynamodb.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: itemKey(fn, version),
          UpdateExpression: 'SET #state = :claimed, runnerName = :runner, claimedAt = :at',
          ConditionExpression: '#state = :fresh AND deployment = :deployment',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':claimed': { S: 'claimed' },
            ':fresh': { S: 'fresh' },
            ':runner': { S: runnerName },
            ':at': { N: String(now()) },
            ':deployment': { S: options.deployment },
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Runs `work` while holding the function's publish lock (a lease in the control table). */
  async function withLock<T>(fn: string, work: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    const key = { pk: { S: `lock#${fn}` }, sk: { S: 'publish' } };
    for (let attempt = 0; ; attempt += 1) {
      try {
        await dynamodb.send(
          new PutItemCommand({
            TableName: tableName,
            Item: { ...key, owner: { S: owner }, leaseUntil: { N: String(now() + LEASE_MS) } },
            ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
            ExpressionAttributeValues: { ':now': { N: String(now()) } },
          }),
        );
        break;
      } catch (error) {
        if (!conditionFailed(error)) throw error;
        if (attempt >= POLLS)
          throw new DispatchError(`lambda-runner: ${fn} stays locked by another publisher`);
        await sleep(POLL_MS / 2);
      }
    }
    try {
      return await work();
    } finally {
      await dynamodb
        .send(
          new DeleteItemCommand({
            TableName: tableName,
            Key: key,
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
        )
        .catch(() => undefined); // the lease ends it anyway
    }
  }

  /** Retries a control-plane call that an update in progress refused. */
  async function retryConflicts<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (name !== 'ResourceConflictException' || attempt >= 10) throw error;
        await sleep(POLL_MS * attempt);
      }
    }
  }

  /** Polls the function (or a version) until `ready` says so; `Failed` ends the wait. */
  async function until(
    fn: string,
    qualifier: string | undefined,
    ready: (state: { State?: string; LastUpdateStatus?: string }) => boolean,
  ): Promise<void> {
    for (let poll = 0; poll < POLLS; poll += 1) {
      const state = await lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: fn, Qualifier: qualifier }),
      );
      if (state.State === 'Failed' || state.LastUpdateStatus === 'Failed')
        throw new DispatchError(
          `lambda-runner: ${fn}${qualifier ? `:${qualifier}` : ''} failed to update`,
        );
      if (ready(state)) return;
      await sleep(POLL_MS);
    }
    throw new DispatchError(`lambda-runner: ${fn} did not become ready`);
  }

  /**
   * Publishes one version of its own: a new environment mark, then the version. The caller
   * holds the function's lock (an update locks $LATEST); the version is still Pending.
   */
  async function updateAndPublish(fn: string): Promise<string> {
    const current = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn }));
    const variables = { ...current.Environment?.Variables, [ENVIRONMENT_VARIABLE]: randomUUID() };
    const updated = await retryConflicts(() =>
      lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: fn,
          Environment: { Variables: variables },
        }),
      ),
    );
    await until(fn, undefined, (state) => state.LastUpdateStatus === 'Successful');
    const published = await retryConflicts(() =>
      lambda.send(
        new PublishVersionCommand({
          FunctionName: fn,
          RevisionId: updated.RevisionId,
          Description: 'lambda-runner: one job, then deleted',
        }),
      ),
    );
    return published.Version!;
  }

  /** Waits for a new version to be Active and gives it its async settings (no lock needed). */
  async function activate(fn: string, version: string): Promise<void> {
    await until(fn, version, (state) => state.State === 'Active');
    // Destinations and the event age as the function has them; no retry (one event, one job).
    let base = asyncConfigs.get(fn);
    if (!base) {
      base = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: fn }));
      asyncConfigs.set(fn, base);
    }
    await lambda.send(
      new PutFunctionEventInvokeConfigCommand({
        FunctionName: fn,
        Qualifier: version,
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: base.MaximumEventAgeInSeconds,
        DestinationConfig: base.DestinationConfig,
      }),
    );
  }

  async function deleteVersion(fn: string, version: string): Promise<void> {
    await lambda
      .send(new DeleteFunctionCommand({ FunctionName: fn, Qualifier: version }))
      .catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
      });
    await dynamodb.send(new DeleteItemCommand({ TableName: tableName, Key: itemKey(fn, version) }));
  }

  return {
    async claim(fn, runnerName) {
      for (const item of (await items(fn)).filter(fresh)) {
        if (await take(fn, item.version!.S!, runnerName)) return item.version!.S!;
      }
      // None ready: publish one for this runner alone (slower, by a few seconds). The lock is
      // free for the next publisher while this version becomes Active.
      const version = await withLock(fn, () => updateAndPublish(fn));
      await activate(fn, version);
      await record(fn, version, {
        state: { S: 'claimed' },
        runnerName: { S: runnerName },
        claimedAt: { N: String(now()) },
      });
      log.info({ functionName: fn, version }, 'no fresh environment ready: published one');
      return version;
    },

    async release(fn, version) {
      await deleteVersion(fn, version);
    },

    async refill(fn) {
      if ((await items(fn)).filter(fresh).length >= options.size) return 0;
      // Counted again under the lock: concurrent refills publish the pool once, not each.
      return withLock(fn, async () => {
        const missing = options.size - (await items(fn)).filter(fresh).length;
        for (let i = 0; i < missing; i += 1) {
          const version = await updateAndPublish(fn);
          await activate(fn, version);
          await record(fn, version, { state: { S: 'fresh' } });
        }
        return Math.max(0, missing);
      });
    },

    async sweep(fn) {
      const listed = new Map((await items(fn)).map((item) => [item.version!.S!, item]));
      let deleted = 0;
      let marker: string | undefined;
      do {
        const page = await lambda.send(
          new ListVersionsByFunctionCommand({ FunctionName: fn, Marker: marker }),
        );
        for (const version of page.Versions ?? []) {
          if (!version.Version || version.Version === '$LATEST') continue;
          const item = listed.get(version.Version);
          listed.delete(version.Version);
          if (!leaked(item, version.LastModified)) continue;
          await deleteVersion(fn, version.Version);
          deleted += 1;
        }
        marker = page.NextMarker;
      } while (marker);
      // Items whose version is gone.
      for (const version of listed.keys()) await deleteVersion(fn, version);
      return { deleted };
    },
  };

  /** Never listed (past a grace), fresh from another deployment, or claimed past its lifetime. */
  function leaked(item: Item | undefined, lastModified: string | undefined): boolean {
    if (!item) return now() - Date.parse(lastModified ?? '') > UNLISTED_GRACE_MS;
    const state = item.state?.S;
    if (state === 'fresh') return item.deployment?.S !== options.deployment;
    return now() - Number(item.claimedAt?.N) > options.lifetimeMs;
  }
}
