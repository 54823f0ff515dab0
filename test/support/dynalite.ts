import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- dynalite ships no types
const dynalite = require('dynalite') as (
  options: Record<string, number>,
) => import('node:http').Server;

/** The control table's key schema, as the stack creates it. */
export const CONTROL_TABLE_SCHEMA = {
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' as const },
    { AttributeName: 'sk', AttributeType: 'S' as const },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' as const },
    { AttributeName: 'sk', KeyType: 'RANGE' as const },
  ],
};

const dynamoClient = (endpoint: string) =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

/** Creates the control table, as the stack does, in the DynamoDB at `endpoint`. */
export async function createControlTable(
  endpoint: string,
  tableName = 'control',
  given?: DynamoDBClient,
): Promise<string> {
  const client = given ?? dynamoClient(endpoint);
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        ...CONTROL_TABLE_SCHEMA,
      }),
    );
  } finally {
    if (!given) client.destroy();
  }
  return tableName;
}

/**
 * A DynamoDB (dynalite, a DynamoDB implementation) on a loopback port, in memory, with the
 * control table created; `stop` closes it.
 */
export async function startDynamo(tableName = 'control'): Promise<{
  client: DynamoDBClient;
  endpoint: string;
  tableName: string;
  stop: () => Promise<void>;
}> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = dynamoClient(endpoint);
  await createControlTable(endpoint, tableName, client);
  return {
    client,
    endpoint,
    tableName,
    stop: async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * For a suite: a DynamoDB started before its tests and stopped after, with nock letting the
 * SDK reach it (loopback) and nothing else. Read `.current` inside tests.
 */
export function useDynamo(): { current: Awaited<ReturnType<typeof startDynamo>> } {
  const holder = {} as { current: Awaited<ReturnType<typeof startDynamo>> };
  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    holder.current = await startDynamo();
  });
  afterAll(async () => {
    nock.enableNetConnect();
    await holder.current.stop();
  });
  return holder;
}
