import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

import { conditionFailed } from '../errors';

export { conditionFailed };

/**
 * The control plane's own small store (DynamoDB, on demand, in the stack): what the broker must
 * agree on across all its instances, whatever events arrive and however often. Items live two
 * days (the table's TTL attribute `expiresAt`); a job waits 24 hours at most.
 *
 * - `attempt#<owner>/<repo>#<job>#<attempt>` / `starts`: runners started for one job attempt.
 *   Counted with a conditional write before a runner is registered, so the dispatch limit holds
 *   against replayed events and concurrent brokers alike.
 */
export interface ControlTable {
  /** Counts one more runner start for the job attempt; false when the limit is reached. */
  countStart(attempt: AttemptKey, limit: number): Promise<boolean>;
  /** Takes a start back: it never happened (GitHub already had the runner, or the start failed). */
  uncountStart(attempt: AttemptKey): Promise<void>;
}

export interface AttemptKey {
  readonly owner: string;
  readonly repo: string;
  readonly jobId: number;
  readonly runAttempt: number;
}

const LIFETIME_S = 2 * 24 * 3600;

export function dynamoControlTable(options: {
  dynamodb: Pick<DynamoDBClient, 'send'>;
  tableName: string;
  now?: () => number;
}): ControlTable {
  const { dynamodb, tableName } = options;
  const now = options.now ?? Date.now;
  const key = (attempt: AttemptKey) => ({
    pk: { S: `attempt#${attempt.owner}/${attempt.repo}#${attempt.jobId}#${attempt.runAttempt}` },
    sk: { S: 'starts' },
  });
  const expiresAt = () => ({ N: String(Math.floor(now() / 1000) + LIFETIME_S) });
  return {
    async countStart(attempt, limit) {
      try {
        await dynamodb.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key(attempt),
            UpdateExpression: 'ADD starts :one SET expiresAt = :expires',
            ConditionExpression: 'attribute_not_exists(starts) OR starts < :limit',
            ExpressionAttributeValues: {
              ':one': { N: '1' },
              ':limit': { N: String(limit) },
              ':expires': expiresAt(),
            },
          }),
        );
        return true;
      } catch (error) {
        if (conditionFailed(error)) return false;
        throw error;
      }
    },
    async uncountStart(attempt) {
      await dynamodb
        .send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key(attempt),
            UpdateExpression: 'ADD starts :minus',
            ConditionExpression: 'starts > :zero',
            ExpressionAttributeValues: { ':minus': { N: '-1' }, ':zero': { N: '0' } },
          }),
        )
        .catch((error: unknown) => {
          if (!conditionFailed(error)) throw error;
        });
    },
  };
}
