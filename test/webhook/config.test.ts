import { loadWebhookConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('loadWebhookConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadWebhookConfig({ WEBHOOK_SECRET: 's', RUNNER_FUNCTION_NAME: 'fn' });
    expect(config).toMatchObject({
      requiredLabel: 'lambda-runner',
      allowedRepositories: [],
      allowedOwners: [],
      allowPublicRepositories: false,
      dispatch: 'local',
      logLevel: 'info',
      profiles: [
        {
          name: 'default',
          functionName: 'fn',
          labels: [
            'self-hosted',
            'lambda-runner',
            'linux',
            'x64',
            'aws-cli',
            'sam-cli',
            'python',
            'node',
          ],
        },
      ],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('hands jobs to the broker by Lambda invoke inside Lambda, and needs its name', () => {
    const config = loadWebhookConfig({
      WEBHOOK_SECRET: 's',
      BROKER_FUNCTION_NAME: 'broker',
      AWS_LAMBDA_FUNCTION_NAME: 'hook',
    });
    expect(config).toMatchObject({ dispatch: 'lambda', brokerFunctionName: 'broker' });
    expect(() =>
      loadWebhookConfig({ WEBHOOK_SECRET: 's', AWS_LAMBDA_FUNCTION_NAME: 'hook' }),
    ).toThrow(/BROKER_FUNCTION_NAME is required when RUNNER_DISPATCH=lambda/);
  });

  it('refuses an empty label list instead of ignoring every job', () => {
    expect(() => loadWebhookConfig({ WEBHOOK_SECRET: 's', RUNNER_LABELS: ',,,' })).toThrow(
      /RUNNER_LABELS must list at least one label/,
    );
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadWebhookConfig({
        AWS_LAMBDA_FUNCTION_NAME: 'hook',
        ALLOW_PUBLIC_REPOSITORIES: 'yes',
        LOG_LEVEL: 'loud',
        RUNNER_PROFILES:
          '[{"name":"a","labels":[],"functionName":"f"},{"name":"b","labels":["x"],"functionName":""}]',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/WEBHOOK_SECRET or WEBHOOK_SECRET_ARN is required/);
    expect(problems).toMatch(/ALLOW_PUBLIC_REPOSITORIES must be "true" or "false"/);
    expect(problems).toMatch(/LOG_LEVEL must be one of/);
    expect(problems).toMatch(/RUNNER_PROFILES\[0\]: profile "a": labels/);
    expect(problems).toMatch(/RUNNER_PROFILES\[1\]: profile "b": functionName/);
  });

  it('refuses RUNNER_DISPATCH=local inside Lambda and a profile list that is not JSON', () => {
    expect(() =>
      loadWebhookConfig({
        WEBHOOK_SECRET: 's',
        AWS_LAMBDA_FUNCTION_NAME: 'h',
        RUNNER_DISPATCH: 'local',
        RUNNER_PROFILES: 'nope',
      }),
    ).toThrow(/RUNNER_DISPATCH=local[\s\S]*RUNNER_PROFILES must be a JSON array/);
  });

  it('never shows the secret when the configuration is printed', () => {
    const config = loadWebhookConfig({
      WEBHOOK_SECRET: 'hunter2-secret',
      RUNNER_FUNCTION_NAME: 'fn',
    });
    expect(JSON.stringify(config)).not.toContain('hunter2-secret');
    const fromArn = loadWebhookConfig({
      WEBHOOK_SECRET_ARN: 'arn:secret',
      RUNNER_FUNCTION_NAME: 'fn',
    });
    expect(JSON.stringify(fromArn)).toContain('secretsmanager:arn:secret');
  });
});
