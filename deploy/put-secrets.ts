import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LambdaRunnerError } from '../src/errors';
import type { AppSettings } from './app-settings';

/** The secret names a stage's stack creates (deploy/stack.js). */
export function secretNames(stage: string) {
  return {
    webhook: `lambda-runner/${stage}/webhook-secret`,
    app: `lambda-runner/${stage}/github-app`,
  };
}

export function checkStage(stage: string | undefined): string {
  if (!stage || !/^[a-z0-9][a-z0-9-]{0,30}$/.test(stage)) {
    throw new LambdaRunnerError(
      'lambda-runner: give the stage as --stage <name> (lower-case letters, digits, dashes)',
    );
  }
  return stage;
}

/**
 * Stores the webhook secret and the App credentials in the stage's two secrets (for `app` 2 and
 * on, that additional App's credentials in its own secret). Answers with
 * the names and new versions only: the values never leave this function.
 */
export async function putSecrets(
  stage: string,
  settings: AppSettings,
  secretsManager: Pick<SecretsManagerClient, 'send'>,
  app = 1,
): Promise<{ name: string; versionId?: string }[]> {
  const names = secretNames(stage);
  const credentials = JSON.stringify({ appId: settings.appId, privateKey: settings.privateKey });
  // An additional App (`--app 2` and on, the additionalApps parameter): its credentials alone.
  const values: [string, string][] =
    app > 1
      ? [[`${names.app}-${app}`, credentials]]
      : [
          [names.webhook, settings.webhookSecret],
          [names.app, credentials],
        ];
  const stored: { name: string; versionId?: string }[] = [];
  for (const [name, value] of values) {
    try {
      const output = await secretsManager.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: value }),
      );
      stored.push({ name, versionId: output.VersionId });
    } catch (error) {
      throw explain(error, name, stage);
    }
  }
  return stored;
}

function explain(error: unknown, name: string, stage: string): LambdaRunnerError {
  const kind = (error as { name?: string }).name;
  const hint =
    kind === 'ResourceNotFoundException'
      ? `stage "${stage}" has no secret ${name}: deploy it first (cd deploy && npx serverless deploy --stage ${stage}) or check --stage and --region`
      : `cannot store ${name}: ${(error as Error).message}`;
  return new LambdaRunnerError(`lambda-runner: ${hint}`, { cause: error });
}
