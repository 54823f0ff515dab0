import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadSdk } from './aws-clients';
import { conditionFailed } from './errors';

/** A job's state as the App's own `workflow_job` deliveries told it. */
export interface JobState {
  readonly status: JobStatus;
  /** The runner GitHub gave the job to (`in_progress` and `completed` deliveries name it). */
  readonly runnerName?: string;
  readonly conclusion?: string;
}

export type JobStatus = 'queued' | 'in_progress' | 'completed';

export interface JobKey {
  readonly owner: string;
  readonly repo: string;
  readonly jobId: number;
}

/**
 * What the App's deliveries said of each of our jobs, kept in the control table
 * (`job#<owner>/<repo>#<job>` / `state`): the webhook records every verified `queued`,
 * `in_progress` and `completed` delivery of a job one of our profiles serves, and the broker
 * reads it before it would ask GitHub, so a job costs GitHub no status read while its deliveries
 * arrive. A state only moves forward: a late `queued` never undoes `completed`.
 */
export interface JobStates {
  record(job: JobKey, state: JobState): Promise<void>;
  /** What the deliveries said, or undefined when none was recorded (GitHub is asked then). */
  read(job: JobKey): Promise<JobState | undefined>;
}

const RANK: Record<JobStatus, number> = { queued: 1, in_progress: 2, completed: 3 };

/** The `workflow_job` actions that say where a job stands, and the status each records. */
export function jobStatusOf(action: string | undefined): JobStatus | undefined {
  if (action === 'queued' || action === 'in_progress' || action === 'completed') return action;
  return undefined;
}

/** A job waits 24 hours at most: its state is kept two days (the table's TTL). */
const LIFETIME_S = 2 * 24 * 3600;

export function dynamoJobStates(options: {
  dynamodb: Pick<DynamoDBClient, 'send'>;
  tableName: string;
  now?: () => number;
}): JobStates {
  const { dynamodb, tableName } = options;
  // Loaded on the first record, so a webhook's cold start does not pay for the SDK package.
  const sdk = () => loadSdk('@aws-sdk/client-dynamodb');
  const now = options.now ?? Date.now;
  const key = (job: JobKey) => ({
    pk: { S: `job#${job.owner}/${job.repo}#${job.jobId}`.toLowerCase() },
    sk: { S: 'state' },
  });
  return {
    async record(job, state) {
      const optional = {
        ...(state.runnerName ? { ':runner': { S: state.runnerName } } : {}),
        ...(state.conclusion ? { ':conclusion': { S: state.conclusion } } : {}),
      };
      const sets = [
        'jobStatus = :status',
        '#rank = :rank',
        'expiresAt = :expires',
        ...(state.runnerName ? ['runnerName = :runner'] : []),
        ...(state.conclusion ? ['conclusion = :conclusion'] : []),
      ];
      try {
        await dynamodb.send(
          new (sdk().UpdateItemCommand)({
            TableName: tableName,
            Key: key(job),
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: 'attribute_not_exists(#rank) OR #rank < :rank',
            ExpressionAttributeNames: { '#rank': 'rank' },
            ExpressionAttributeValues: {
              ':status': { S: state.status },
              ':rank': { N: String(RANK[state.status]) },
              ':expires': { N: String(Math.floor(now() / 1000) + LIFETIME_S) },
              ...optional,
            },
          }),
        );
      } catch (error) {
        // A later state is already there (deliveries arrive in any order): it stands.
        if (!conditionFailed(error)) throw error;
      }
    },
    async read(job) {
      const { Item } = await dynamodb.send(
        new (sdk().GetItemCommand)({ TableName: tableName, Key: key(job), ConsistentRead: true }),
      );
      return stateOf(Item);
    },
  };
}

type Item = Record<string, { S?: string } | undefined>;

function stateOf(item: Item | undefined): JobState | undefined {
  const status = item?.jobStatus?.S;
  if (!status || !(status in RANK)) return undefined;
  return { status: status as JobStatus, ...text(item, 'runnerName'), ...text(item, 'conclusion') };
}

/** `{ [name]: value }` when the item holds a non-empty string there, else nothing. */
function text(item: Item | undefined, name: 'runnerName' | 'conclusion') {
  const value = item?.[name]?.S;
  return value ? { [name]: value } : {};
}
