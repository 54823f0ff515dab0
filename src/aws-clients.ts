import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';

export interface AwsClients {
  readonly lambda: LambdaClient;
  readonly secretsManager: SecretsManagerClient;
  readonly sts: STSClient;
}

/**
 * Builds the AWS clients once, lazily: a local run that never invokes Lambda or reads a secret
 * never loads credentials. Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_*`).
 */
export function createAwsClients(): AwsClients {
  let lambda: LambdaClient | undefined;
  let secretsManager: SecretsManagerClient | undefined;
  let sts: STSClient | undefined;
  return {
    get lambda() {
      lambda ??= new LambdaClient({});
      return lambda;
    },
    get secretsManager() {
      secretsManager ??= new SecretsManagerClient({});
      return secretsManager;
    },
    get sts() {
      sts ??= new STSClient({});
      return sts;
    },
  };
}
