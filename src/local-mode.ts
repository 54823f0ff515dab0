import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadRunnerConfig } from '../runner/config';
import { ConfigError } from './errors';
import { createRunnerHandler } from '../runner/handler';
import type { RunnerPayload } from '../runner/runner-payload';
import { createAwsClients } from './aws-clients';
import { createBrokerHandler } from './broker/handler';
import { loadBrokerConfig } from './broker/config';
import { createCodeBuildExecutor, type Executor } from './broker/executors';
import { createLocalBuilds } from './local-builds';
import { createLocalDispatch as dispatchTo, type Dispatch } from './dispatch';
import type { Env } from './env';
import { deriveSealKey } from './seal';

/**
 * Local mode reads three configurations (webhook, broker, runner) from one environment: every
 * problem of all three is reported in one error, and a line says what is configured.
 */
function checkLocalConfig(env: Env, log: Logger) {
  const problems: string[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const broker = attempt(() => loadBrokerConfig(env));
  const runner = attempt(() => loadRunnerConfig(env));
  if (runner && !existsSync(path.join(runner.sourceDir, 'bin', 'Runner.Listener')))
    problems.push(
      `RUNNER_SOURCE_DIR ${runner.sourceDir} holds no bin/Runner.Listener: point it at an extracted actions runner release`,
    );
  if (!broker || !runner || problems.length > 0) throw new ConfigError([...new Set(problems)]);
  log.info(
    {
      profiles: broker.profiles.map((profile) => `${profile.name} [${profile.labels.join(', ')}]`),
      registration: broker.registration,
      scope: broker.scope,
      github: broker.apiBaseUrl,
      runnerSource: runner.sourceDir,
      workRoot: runner.workRoot,
    },
    'local mode: webhook, broker and runner in this process',
  );
  return broker;
}

/** The build runner entry `npm run build` writes (local mode runs from dist/ or from src/). */
function buildEntry(): string {
  const candidates = [
    path.join(__dirname, 'runner', 'codebuild.js'),
    path.resolve(__dirname, '..', 'dist', 'runner', 'codebuild.js'),
  ];
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[1]!;
}

/** A local runner has no Lambda wall clock; this bounds it like the Lambda one (15 minutes). */
const LOCAL_TIMEOUT_MS = 15 * 60 * 1000;

/**
 * Local mode (`npm start`): the same three steps as in AWS, in this process. The webhook hands
 * the job to an in-process broker (which holds the App settings from `.env`), and the broker
 * starts the runner on this host; when the runner ends, the broker settles it from the same
 * kind of record Lambda's destinations deliver. This host is no sandbox: the job runs as this
 * user beside the App's key, so local mode is for trying lambda-runner out, not for serving
 * untrusted code.
 */
export function createLocalDispatch({
  log,
  env = process.env,
}: {
  log: Logger;
  env?: Env;
}): Dispatch {
  const config = checkLocalConfig(env, log);
  const runner = createRunnerHandler({ env, log });
  let broker: (event: unknown) => Promise<unknown> = async () => undefined;
  const local: Executor = async (payload) => {
    const deadline = Date.now() + LOCAL_TIMEOUT_MS;
    const context = { getRemainingTimeInMillis: () => deadline - Date.now() };
    const settle = (condition: string, responsePayload: unknown) =>
      broker({ requestContext: { condition }, requestPayload: payload, responsePayload });
    runner(payload as RunnerPayload, context)
      .then(
        (result) => settle('Success', result),
        (error: unknown) => settle('RetriesExhausted', { errorMessage: (error as Error).message }),
      )
      .catch((error: unknown) =>
        log.error({ err: error }, 'local broker could not settle a runner'),
      );
  };
  // A codebuild profile's builds run on this host too, through the build runner entry, and end
  // in the state change event CodeBuild would send.
  const builds = createLocalBuilds({
    entry: buildEntry(),
    env,
    log,
    onEnd: (event) => broker(event),
  });
  const codebuild = createCodeBuildExecutor({ codebuild: builds });
  broker = createBrokerHandler({ config, log, executors: { lambda: local, local, codebuild } });
  const sealKey = config.webhookSecret
    .resolve(createAwsClients().secretsManager)
    .then(deriveSealKey);
  const dispatch = sealKey.then((key) => dispatchTo({ broker, sealKey: key, log }));
  return async (request, profile) => (await dispatch)(request, profile);
}
