import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { readAppSettings } from './app-settings';
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
    },
  });
  const stage = checkStage(values.stage);
  const env = { ...process.env };
  loadDotenv({ path: values['env-file'], processEnv: env, quiet: true } as Parameters<
    typeof loadDotenv
  >[0]);
  const settings = readAppSettings(env);
  const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (positionals[0] === 'secrets') {
    for (const { name, versionId } of await putSecrets(
      stage,
      settings,
      new SecretsManagerClient({ region }),
    )) {
      print(`stored ${name} (version ${versionId ?? 'unknown'})`);
    }
    return;
  }
  if (positionals[0] === 'webhook-url') {
    const baseUrl = env.GHE_HOST
      ? `${env.GHE_PROTOCOL ?? 'https'}://${env.GHE_HOST}/api/v3`
      : undefined;
    const result = await setWebhookUrl(stage, settings, {
      cloudFormation: new CloudFormationClient({ region }),
      baseUrl,
    });
    print(`the App's webhook now points at ${result.url}`);
    print(`install the App on your repositories or organization: ${result.installUrl}`);
    return;
  }
  throw new Error(
    'usage: cli.ts secrets|webhook-url --stage <stage> [--region <region>] [--env-file .env]',
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
