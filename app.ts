import type { ApplicationFunction, Probot } from 'probot';
import { loadWebhookConfig, type WebhookConfig } from './src/config';
import { ConfigError } from './src/errors';
import type { Dispatch } from './src/dispatch';
import type { Metrics } from './src/metrics';
import { handleDelivery, type DeliveryOutcome, type Delivery } from './src/handle-delivery';
import type { JobStates } from './src/job-states';

export interface AppOptions {
  readonly config?: WebhookConfig;
  /** How runners start; defaults to in-process runners on this host (local mode). */
  readonly dispatch?: Dispatch;
  /** Receives each delivery's outcome, so an edge (the Lambda handler) can shape its answer. */
  readonly onOutcome?: (deliveryId: string, outcome: DeliveryOutcome) => void;
  /** Where decisions are counted (CloudWatch EMF); none in local mode. */
  readonly metrics?: Metrics;
  /** Where our jobs' states are recorded for the broker (the control table, deployed). */
  readonly jobStates?: JobStates;
}

/**
 * The lambda-runner Probot app: every delivery is decided, and a queued `workflow_job` that one
 * of the runner profiles serves starts an ephemeral runner.
 */
export function createApp(options: AppOptions = {}): ApplicationFunction {
  return (app: Probot) => {
    const { config, dispatch } = options.config
      ? { config: options.config, dispatch: options.dispatch ?? defaultLocalDispatch(app) }
      : startLocal(app, options.dispatch);
    app.onAny(async (context) => {
      const delivery = { id: context.id, name: context.name, payload: context.payload } as Delivery;
      const outcome = await handleDelivery(delivery, {
        config,
        dispatch,
        log: app.log,
        metrics: options.metrics,
        jobStates: options.jobStates,
      });
      options.onOutcome?.(context.id, outcome);
    });
  };
}

/**
 * `npm start`: the configuration of all three parts is checked at once, and a problem ends the
 * process with one readable message (no stack trace), since nothing can be served without it.
 */
function startLocal(
  app: Probot,
  dispatch?: Dispatch,
): { config: WebhookConfig; dispatch: Dispatch } {
  try {
    return { config: loadWebhookConfig(), dispatch: dispatch ?? defaultLocalDispatch(app) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    let problems = error.problems;
    try {
      if (!dispatch) defaultLocalDispatch(app);
    } catch (more) {
      if (more instanceof ConfigError) problems = [...new Set([...problems, ...more.problems])];
    }
    console.error(new ConfigError(problems).message);
    return process.exit(1);
  }
}

function defaultLocalDispatch(app: Probot): Dispatch {
  // Loaded only in local mode, so the webhook bundle carries neither the broker nor the runner.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createLocalDispatch } = require('./src/local-mode') as typeof import('./src/local-mode');
  return createLocalDispatch({ log: app.log });
}

export default createApp();
