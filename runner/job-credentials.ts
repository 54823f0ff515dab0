import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { LambdaRunnerError } from '../src/errors';

/** The AWS variables a job's environment gets in place of this function's own credentials. */
export type JobCredentials = Record<
  'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN',
  string
>;

/**
 * Assumes `JOB_ROLE_ARN` for one job. The runner's own role can read the App's private key; the
 * job role holds only what jobs may do (the `jobPolicies` deploy parameter), so the job never
 * sees credentials that could read the key. 900 s is both STS's minimum and Lambda's maximum.
 */
export async function assumeJobRole(
  sts: Pick<STSClient, 'send'>,
  roleArn: string,
  sessionName: string,
): Promise<JobCredentials> {
  try {
    const { Credentials: credentials } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: sessionName.slice(0, 64),
        DurationSeconds: 900,
      }),
    );
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) {
      throw new Error('STS returned no credentials');
    }
    return {
      AWS_ACCESS_KEY_ID: credentials.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.SecretAccessKey,
      AWS_SESSION_TOKEN: credentials.SessionToken,
    };
  } catch (error) {
    throw new LambdaRunnerError(
      `lambda-runner: cannot assume the job role ${roleArn}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
