import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import type { Env } from '../src/env';
import { readAppSettings, type AppSettings } from './app-settings';
import { checkStage, putSecrets } from './put-secrets';
import { setWebhookUrl } from './set-webhook-url';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the stage file module is CommonJS, shared with serverless.yml
const { readStageFile } = require('./stage-file') as {
  readStageFile: (stage: string, env?: NodeJS.ProcessEnv) => unknown;
};

/**
 * `npm run deploy:secrets -- --stage prod` and `npm run deploy:webhook-url -- --stage prod`.
 * Both read the App settings from `.env` (or --env-file) as Probot's setup flow wrote them.
 */
export async function main(
  argv: string[],
  print: (line: string) => void = console.log,
): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stage: { type: 'string' },
      region: { type: 'string' },
      'env-file': { type: 'string', default: '.env' },
    },
  });
  const command = commands[positionals[0] ?? ''];
  if (!command) throw new Error(USAGE);
  const stage = checkStage(values.stage);
  const env = { ...process.env };
  loadDotenv({ path: values['env-file'], processEnv: env, quiet: true } as Parameters<
    typeof loadDotenv
  >[0]);
  const { region, ghe } = stageSettings(stage, values.region, env);
  await command({ stage, env: { ...ghe, ...env }, region, settings: readAppSettings(env), print });
}

/** Where the stage lives and its GHES host, from deploy/stages/<stage>.json unless given. */
function stageSettings(stage: string, region: string | undefined, env: Env) {
  const saved = readStageFile(stage, env as NodeJS.ProcessEnv) as {
    region?: string;
    params?: Record<string, string>;
  };
  const { gheHost, gheProtocol = 'https' } = saved.params ?? {};
  const fallback = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    region: region ?? saved.region ?? fallback,
    ghe: gheHost ? { GHE_HOST: gheHost, GHE_PROTOCOL: gheProtocol } : {},
  };
}

const USAGE =
  'usage: cli.ts secrets|webhook-url --stage <stage> [--region <region>] [--env-file .env]';

interface CommandInput {
  readonly stage: string;
  readonly env: Env;
  readonly region: string;
  readonly settings: AppSettings;
  readonly print: (line: string) => void;
}

const commands: Record<string, (input: CommandInput) => Promise<void>> = {
  async secrets({ stage, region, settings, print }) {
    const stored = await putSecrets(stage, settings, new SecretsManagerClient({ region }));
    for (const { name, versionId } of stored)
      print(`stored ${name} (version ${versionId ?? 'unknown'})`);
  },
  async 'webhook-url'({ stage, env, region, settings, print }) {
    const baseUrl = env.GHE_HOST
      ? `${env.GHE_PROTOCOL ?? 'https'}://${env.GHE_HOST}/api/v3`
      : undefined;
    const cloudFormation = new CloudFormationClient({ region });
    const result = await setWebhookUrl(stage, settings, { cloudFormation, baseUrl });
    print(`the App's webhook now points at ${result.url}`);
    print(`install the App on your repositories or organization: ${result.installUrl}`);
  },
};

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
