import { createRunnerHandler } from './handler';

/** The runner Lambda (container image); the webhook invokes it asynchronously, one job per event. */
export const handler = createRunnerHandler();
