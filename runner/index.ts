import { createRunnerHandler } from './handler';

/** The runner Lambda (container image); the broker invokes it asynchronously, one job per event. */
export const handler = createRunnerHandler();
