import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsClients {
  readonly lambda: LambdaClient;
  readonly secretsManager: SecretsManagerClient;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly codebuild: CodeBuildClient;
}

/**
 * Builds the AWS clients once, lazily: a local run that never invokes Lambda or reads a secret
 * never loads credentials. Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_*`).
 */
export function createAwsClients(): AwsClients {
  let lambda: LambdaClient | undefined;
  let secretsManager: SecretsManagerClient | undefined;
  let sqs: SQSClient | undefined;
  let dynamodb: DynamoDBClient | undefined;
  let codebuild: CodeBuildClient | undefined;
  return {
    get lambda() {
      lambda ??= new (loadSdk('@aws-sdk/client-lambda').LambdaClient)({});
      return lambda;
    },
    get secretsManager() {
      secretsManager ??= new (loadSdk('@aws-sdk/client-secrets-manager').SecretsManagerClient)({});
      return secretsManager;
    },
    get sqs() {
      sqs ??= new (loadSdk('@aws-sdk/client-sqs').SQSClient)({});
      return sqs;
    },
    get dynamodb() {
      dynamodb ??= new (loadSdk('@aws-sdk/client-dynamodb').DynamoDBClient)({});
      return dynamodb;
    },
    get codebuild() {
      codebuild ??= new (loadSdk('@aws-sdk/client-codebuild').CodeBuildClient)({});
      return codebuild;
    },
  };
}

/**
 * Loads an SDK client package on first use: a webhook given its secret directly never pays for
 * loading Secrets Manager at cold start.
 */
export function loadSdk<T extends keyof Clients>(name: T): Clients[T] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  return require(name) as Clients[T];
}

export interface Clients {
  '@aws-sdk/client-codebuild': typeof import('@aws-sdk/client-codebuild');
  '@aws-sdk/client-dynamodb': typeof import('@aws-sdk/client-dynamodb');
  '@aws-sdk/client-lambda': typeof import('@aws-sdk/client-lambda');
  '@aws-sdk/client-secrets-manager': typeof import('@aws-sdk/client-secrets-manager');
  '@aws-sdk/client-sqs': typeof import('@aws-sdk/client-sqs');
}
