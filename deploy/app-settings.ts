import { createPrivateKey } from 'node:crypto';
import { getPrivateKey } from '@probot/get-private-key';
import { ConfigError } from '../src/errors';
import type { Env } from '../src/env';

export interface AppSettings {
  readonly appId: string;
  readonly privateKey: string;
  readonly webhookSecret: string;
}

/**
 * Reads the App's settings as Probot's setup flow leaves them (`.env`: APP_ID, PRIVATE_KEY or
 * PRIVATE_KEY_PATH or a single *.pem, WEBHOOK_SECRET) and checks each one; every problem is
 * reported at once, and no value is ever part of a message.
 */
export function readAppSettings(env: Env, cwd = process.cwd()): AppSettings {
  const problems: string[] = [];
  const appId = (env.APP_ID ?? '').trim();
  if (!/^\d+$/.test(appId)) problems.push('APP_ID must be the numeric id of the GitHub App');
  const webhookSecret = (env.WEBHOOK_SECRET ?? '').trim();
  if (!webhookSecret) problems.push('WEBHOOK_SECRET is missing');
  const privateKey = loadPrivateKey(env, cwd, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { appId, privateKey, webhookSecret };
}

function loadPrivateKey(env: Env, cwd: string, problems: string[]): string {
  let pem: string | null;
  try {
    pem = getPrivateKey({
      env: { PRIVATE_KEY: env.PRIVATE_KEY, PRIVATE_KEY_PATH: env.PRIVATE_KEY_PATH },
      cwd,
    });
  } catch (error) {
    problems.push((error as Error).message.replace(/^\[@probot\/get-private-key\] /, ''));
    return '';
  }
  if (!pem) {
    problems.push(
      'no private key: set PRIVATE_KEY or PRIVATE_KEY_PATH, or put the App .pem file here',
    );
    return '';
  }
  try {
    createPrivateKey(pem);
  } catch {
    problems.push(
      'the private key is not a valid PEM private key (download a new one from the App settings)',
    );
  }
  return pem;
}
