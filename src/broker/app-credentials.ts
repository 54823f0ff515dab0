import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../errors';
import type { AppSource } from './config';

export interface AppCredentials {
  readonly appId: string;
  readonly privateKey: string;
}

/**
 * The App's id and private key, from the environment or from the Secrets Manager JSON
 * `{"appId","privateKey"}` (the source caches it, so it is read once per container).
 */
export async function resolveAppCredentials(
  source: AppSource,
  secretsManager: Pick<SecretsManagerClient, 'send'>,
): Promise<AppCredentials> {
  if (!('json' in source)) {
    return { appId: source.appId, privateKey: await source.privateKey.resolve(secretsManager) };
  }
  const where = source.json.secretId ? `secret ${source.json.secretId}` : 'ADDITIONAL_APPS';
  let parsed: { appId?: unknown; privateKey?: unknown };
  try {
    parsed = JSON.parse(await source.json.resolve(secretsManager)) as typeof parsed;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new ConfigError([`${where} must be JSON {"appId","privateKey"}`]);
  }
  const { appId, privateKey } = parsed;
  if (!appId || typeof privateKey !== 'string' || !privateKey.includes('PRIVATE KEY')) {
    throw new ConfigError([`${where} must hold "appId" and a PEM "privateKey"`]);
  }
  return { appId: String(appId), privateKey };
}
