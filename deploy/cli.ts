import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseArgs } from 'node:util';
import type { AppSettings } from './app-settings';
import { readOperatorStage } from './operator-stage';
import { checkStage, putSecrets } from './put-secrets';
import { setWebhookUrl } from './set-webhook-url';

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
      app: { type: 'string', default: '1' },
    },
  });
  const command = commands[positionals[0] ?? ''];
  if (!command) throw new Error(USAGE);
  const stage = checkStage(values.stage);
  const { region, apiBaseUrl, app } = readOperatorStage(stage, {
    envFile: values['env-file'] ?? '.env',
    region: values.region,
  });
  await command({ stage, region, apiBaseUrl, settings: app, print, app: appNumber(values.app) });
}

const USAGE =
  'usage: cli.ts secrets|webhook-url --stage <stage> [--region <region>] [--env-file .env] [--app 2]';

interface CommandInput {
  readonly stage: string;
  readonly region: string;
  readonly apiBaseUrl: string;
  readonly settings: AppSettings;
  readonly print: (line: string) => void;
  /** Which of the stage's Apps (`--app`): 1 the first, 2 and on the additional ones. */
  readonly app: number;
}

function appNumber(value: string | undefined): number {
  const app = Number(value ?? '1');
  if (!Number.isInteger(app) || app < 1 || app > 5)
    throw new Error('--app must be 1 (the first App) or 2 to 5 (an additional App)');
  return app;
}

const commands: Record<string, (input: CommandInput) => Promise<void>> = {
  async secrets({ stage, region, settings, print, app }) {
    const stored = await putSecrets(stage, settings, new SecretsManagerClient({ region }), app);
    for (const { name, versionId } of stored)
      print(`stored ${name} (version ${versionId ?? 'unknown'})`);
  },
  async 'webhook-url'({ stage, region, apiBaseUrl, settings, print }) {
    const cloudFormation = new CloudFormationClient({ region });
    const result = await setWebhookUrl(stage, settings, { cloudFormation, baseUrl: apiBaseUrl });
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
