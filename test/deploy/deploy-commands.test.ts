import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import nock from 'nock';
import { main } from '../../deploy/cli';
import { appKeys, verifyAppJwt } from '../support/github-app';

const secretsMock = mockClient(SecretsManagerClient);
const cfnMock = mockClient(CloudFormationClient);
const dir = mkdtempSync(path.join(tmpdir(), 'lambda-runner-deploy-'));
const WEBHOOK_SECRET = 'whsec-0123456789abcdef';

function envFile(lines: string[]): string {
  const file = path.join(dir, `env-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const goodEnv = () =>
  envFile([
    'APP_ID=4242',
    `PRIVATE_KEY="${appKeys.privateKey.trim()}"`,
    `WEBHOOK_SECRET=${WEBHOOK_SECRET}`,
  ]);

async function run(args: string[]) {
  const printed: string[] = [];
  await main(args, (line) => printed.push(line));
  return printed;
}

beforeAll(() => nock.disableNetConnect());
afterAll(() => {
  nock.enableNetConnect();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  secretsMock.reset();
  cfnMock.reset();
  nock.cleanAll();
});

describe('deploy:secrets', () => {
  it("puts the webhook secret and the App credentials into the stage's two secrets, printing no value", async () => {
    secretsMock.on(PutSecretValueCommand).resolves({ VersionId: 'v-1' });
    const printed = await run(['secrets', '--stage', 'prod', '--env-file', goodEnv()]);
    const calls = secretsMock.commandCalls(PutSecretValueCommand).map((call) => call.args[0].input);
    expect(calls).toEqual([
      { SecretId: 'lambda-runner/prod/webhook-secret', SecretString: WEBHOOK_SECRET },
      {
        SecretId: 'lambda-runner/prod/github-app',
        SecretString: JSON.stringify({ appId: '4242', privateKey: appKeys.privateKey.trim() }),
      },
    ]);
    expect(printed).toEqual([
      'stored lambda-runner/prod/webhook-secret (version v-1)',
      'stored lambda-runner/prod/github-app (version v-1)',
    ]);
    const text = printed.join('\n');
    expect(text).not.toContain(WEBHOOK_SECRET);
    expect(text).not.toContain('PRIVATE KEY');
  });

  it('refuses a missing key, naming every problem and no value', async () => {
    const file = envFile(['APP_ID=abc', 'WEBHOOK_SECRET=']);
    const error = await run(['secrets', '--stage', 'prod', '--env-file', file]).catch(
      (caught: Error) => caught,
    );
    expect((error as Error).message).toMatch(
      /APP_ID must be the numeric id[\s\S]*WEBHOOK_SECRET is missing[\s\S]*no private key/,
    );
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('refuses a key that is not a PEM', async () => {
    const notPem = path.join(dir, 'not-a-key.pem');
    writeFileSync(notPem, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    const file = envFile(['APP_ID=1', `PRIVATE_KEY_PATH=${notPem}`, 'WEBHOOK_SECRET=x']);
    await expect(run(['secrets', '--stage', 'prod', '--env-file', file])).rejects.toThrow(
      /not a valid PEM private key/,
    );
    const file2 = envFile(['APP_ID=1', 'PRIVATE_KEY=hello', 'WEBHOOK_SECRET=x']);
    await expect(run(['secrets', '--stage', 'prod', '--env-file', file2])).rejects.toThrow(
      /could not be validated/,
    );
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("puts an additional App's credentials into its own secret alone (--app 2)", async () => {
    secretsMock.on(PutSecretValueCommand).resolves({ VersionId: 'v-2' });
    const printed = await run([
      'secrets',
      '--stage',
      'prod',
      '--app',
      '2',
      '--env-file',
      goodEnv(),
    ]);
    expect(
      secretsMock.commandCalls(PutSecretValueCommand).map((call) => call.args[0].input),
    ).toEqual([
      {
        SecretId: 'lambda-runner/prod/github-app-2',
        SecretString: JSON.stringify({ appId: '4242', privateKey: appKeys.privateKey.trim() }),
      },
    ]);
    expect(printed).toEqual(['stored lambda-runner/prod/github-app-2 (version v-2)']);
  });

  it('refuses an App number outside 1 to 5, by name, storing nothing', async () => {
    await expect(
      run(['secrets', '--stage', 'prod', '--app', '9', '--env-file', goodEnv()]),
    ).rejects.toThrow(/--app must be 1/);
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('says to deploy first when the stage has no secrets (a wrong stage)', async () => {
    const missing = Object.assign(new Error("Secrets Manager can't find the specified secret."), {
      name: 'ResourceNotFoundException',
    });
    secretsMock.on(PutSecretValueCommand).rejects(missing);
    await expect(run(['secrets', '--stage', 'prdo', '--env-file', goodEnv()])).rejects.toThrow(
      /stage "prdo" has no secret lambda-runner\/prdo\/webhook-secret: deploy it first/,
    );
  });

  it('requires a valid --stage', async () => {
    await expect(run(['secrets', '--env-file', goodEnv()])).rejects.toThrow(/--stage <name>/);
    await expect(
      run(['secrets', '--stage', 'Prod Stage', '--env-file', goodEnv()]),
    ).rejects.toThrow(/--stage <name>/);
  });
});

describe('deploy:webhook-url', () => {
  it("sets the App's webhook to the stack output with the App JWT and prints the install link", async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'lambda-runner-prod' }).resolves({
      Stacks: [
        {
          StackName: 'lambda-runner-prod',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            {
              OutputKey: 'WebhookUrl',
              OutputValue: 'https://abc.execute-api.us-east-1.amazonaws.com/api/github/webhooks',
            },
          ],
        },
      ],
    });
    const seen: { auth?: string; body?: unknown }[] = [];
    nock('https://api.github.com')
      .patch('/app/hook/config', (body) => {
        seen.push({ body });
        return true;
      })
      .reply(function () {
        seen.push({ auth: this.req.headers.authorization });
        return [200, { url: 'x', content_type: 'json' }];
      })
      .get('/app')
      .reply(200, {
        id: 4242,
        slug: 'lambda-runner',
        html_url: 'https://github.com/apps/lambda-runner',
      });

    const printed = await run(['webhook-url', '--stage', 'prod', '--env-file', goodEnv()]);

    expect(seen[0]!.body).toEqual({
      url: 'https://abc.execute-api.us-east-1.amazonaws.com/api/github/webhooks',
      content_type: 'json',
      secret: WEBHOOK_SECRET,
      insecure_ssl: '0',
    });
    expect(String(verifyAppJwt(seen[1]!.auth).payload.iss)).toBe('4242');
    expect(printed).toEqual([
      "the App's webhook now points at https://abc.execute-api.us-east-1.amazonaws.com/api/github/webhooks",
      'install the App on your repositories or organization: https://github.com/apps/lambda-runner/installations/new',
    ]);
    expect(printed.join('\n')).not.toContain(WEBHOOK_SECRET);
  });

  it('works against GitHub Enterprise Server, reading the host from the stage file', async () => {
    const stages = mkdtempSync(path.join(tmpdir(), 'lambda-runner-stages-'));
    writeFileSync(
      path.join(stages, 'ghes.json'),
      JSON.stringify({ region: 'eu-west-1', params: { gheHost: 'ghe.example.com' } }),
    );
    process.env.LAMBDA_RUNNER_STAGES_DIR = stages;
    cfnMock.on(DescribeStacksCommand, { StackName: 'lambda-runner-ghes' }).resolves({
      Stacks: [
        {
          StackName: 'lambda-runner-ghes',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            { OutputKey: 'WebhookUrl', OutputValue: 'https://hook.example/api/github/webhooks' },
          ],
        },
      ],
    });
    nock('https://ghe.example.com/api/v3')
      .patch('/app/hook/config')
      .reply(200, {})
      .get('/app')
      .reply(200, { html_url: 'https://ghe.example.com/github-apps/lambda-runner' });
    try {
      const printed = await run(['webhook-url', '--stage', 'ghes', '--env-file', goodEnv()]);
      expect(printed[1]).toBe(
        'install the App on your repositories or organization: https://ghe.example.com/github-apps/lambda-runner/installations/new',
      );
      expect(nock.isDone()).toBe(true);
    } finally {
      delete process.env.LAMBDA_RUNNER_STAGES_DIR;
      rmSync(stages, { recursive: true, force: true });
    }
  });

  it('explains a stage that was never deployed', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .rejects(new Error('Stack with id lambda-runner-nope does not exist'));
    await expect(run(['webhook-url', '--stage', 'nope', '--env-file', goodEnv()])).rejects.toThrow(
      /cannot read stack lambda-runner-nope[\s\S]*--stage and --region/,
    );
  });

  it('explains when GitHub refuses the App', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 's',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'WebhookUrl', OutputValue: 'https://x' }],
        },
      ],
    });
    nock('https://api.github.com')
      .patch('/app/hook/config')
      .reply(401, { message: 'A JSON web token could not be decoded' });
    await expect(run(['webhook-url', '--stage', 'prod', '--env-file', goodEnv()])).rejects.toThrow(
      /GitHub refused the webhook update \(401\)/,
    );
  });
});
