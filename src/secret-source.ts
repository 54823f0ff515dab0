import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadSdk } from './aws-clients';
import { SecretError } from './errors';

/**
 * Where a secret comes from: given directly (local runs, tests) or stored in Secrets Manager.
 * Serialises to a mask, so logging a configuration object never prints the value.
 */
export class SecretSource {
  private constructor(
    private readonly value: string | undefined,
    readonly secretId: string | undefined,
  ) {}

  static fromValue(value: string): SecretSource {
    return new SecretSource(value, undefined);
  }

  /** The first given: a direct value, else a Secrets Manager id; undefined when neither is set. */
  static from(value: string | undefined, secretId: string | undefined): SecretSource | undefined {
    if (value) return SecretSource.fromValue(value);
    return secretId ? SecretSource.fromSecretsManager(secretId) : undefined;
  }

  static fromSecretsManager(secretId: string): SecretSource {
    return new SecretSource(undefined, secretId);
  }

  /** The value, reading Secrets Manager at most once per source (once per container). */
  async resolve(client: Pick<SecretsManagerClient, 'send'>): Promise<string> {
    if (this.value !== undefined) return this.value;
    this.pending ??= readSecret(client, this.secretId ?? '').catch((error: unknown) => {
      this.pending = undefined;
      throw error;
    });
    return this.pending;
  }

  toJSON(): string {
    return this.secretId ? `secretsmanager:${this.secretId}` : '***';
  }

  private pending: Promise<string> | undefined;
}

async function readSecret(client: Pick<SecretsManagerClient, 'send'>, secretId: string) {
  try {
    const { GetSecretValueCommand } = loadSdk('@aws-sdk/client-secrets-manager');
    const output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!output.SecretString) throw new Error('the secret has no string value');
    return output.SecretString;
  } catch (error) {
    throw new SecretError(
      `lambda-runner: cannot read secret ${secretId}: ${(error as Error).message}. ` +
        'Check the ARN and that this function may call secretsmanager:GetSecretValue on it.',
      { cause: error },
    );
  }
}
