import nock from 'nock';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createBrokerHandler, type BrokerOptions } from '../../src/broker/handler';
import { captureLog } from './capture-log';

export const GITHUB_API = 'https://api.github.com';

/**
 * The broker handler with `env`, SDK clients for aws-sdk-client-mock to answer, a captured log,
 * and GitHub's retry back-off shrunk for tests.
 */
export function testBroker(
  env: Record<string, string>,
  executors?: BrokerOptions['executors'],
  clients: Partial<NonNullable<BrokerOptions['clients']>> = {},
) {
  const captured = captureLog();
  const handler = createBrokerHandler({
    env,
    clients: {
      lambda: new LambdaClient({ region: 'us-east-1' }),
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      sqs: new SQSClient({ region: 'us-east-1' }),
      ...clients,
    },
    ...(executors ? { executors } : {}),
    log: captured.log,
    retryAfterBaseValue: 1,
  });
  return { handler, ...captured };
}

/** GitHub minting an installation token for installation 77 (or `installation`). */
export function mintsToken(scope = nock(GITHUB_API), installation = 77): nock.Scope {
  return scope.post(`/app/installations/${installation}/access_tokens`).reply(201, {
    token: 'ghs_installation',
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
  });
}
