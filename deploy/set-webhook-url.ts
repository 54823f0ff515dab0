import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { LambdaRunnerError } from '../src/errors';
import type { AppSettings } from './app-settings';

export interface WebhookUrlResult {
  readonly url: string;
  readonly installUrl: string;
}

/**
 * Points the GitHub App's webhook at the stage's deployed URL (the stack output `WebhookUrl`),
 * authenticated as the App with its JWT, and returns the App's install link.
 */
export async function setWebhookUrl(
  stage: string,
  settings: AppSettings,
  deps: { cloudFormation: Pick<CloudFormationClient, 'send'>; baseUrl?: string },
): Promise<WebhookUrlResult> {
  const url = await stackOutput(deps.cloudFormation, `lambda-runner-${stage}`, 'WebhookUrl');
  // The App JWT itself: these are App-level routes, not an installation's.
  const { token } = await createAppAuth({ appId: settings.appId, privateKey: settings.privateKey })(
    { type: 'app' },
  );
  const octokit = new Octokit({ baseUrl: deps.baseUrl ?? 'https://api.github.com', auth: token });
  try {
    // The body goes in `data`: a parameter named `url` would be taken for the request URL.
    await octokit.request('PATCH /app/hook/config', {
      data: { url, content_type: 'json', secret: settings.webhookSecret, insecure_ssl: '0' },
    });
    const { data: app } = await octokit.request('GET /app');
    return { url, installUrl: `${app?.html_url}/installations/new` };
  } catch (error) {
    throw new LambdaRunnerError(
      `lambda-runner: GitHub refused the webhook update (${(error as { status?: number }).status ?? 'no answer'}): check APP_ID and the private key`,
      { cause: error },
    );
  }
}

async function stackOutput(
  cloudFormation: Pick<CloudFormationClient, 'send'>,
  stackName: string,
  key: string,
): Promise<string> {
  let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined;
  try {
    const { Stacks: stacks } = await cloudFormation.send(
      new DescribeStacksCommand({ StackName: stackName }),
    );
    outputs = stacks?.[0]?.Outputs;
  } catch (error) {
    throw new LambdaRunnerError(
      `lambda-runner: cannot read stack ${stackName}: ${(error as Error).message}. Deployed with this --stage and --region?`,
      {
        cause: error,
      },
    );
  }
  const value = outputs?.find((output) => output.OutputKey === key)?.OutputValue;
  if (!value) throw new LambdaRunnerError(`lambda-runner: stack ${stackName} has no ${key} output`);
  return value;
}
