import { createBrokerHandler } from './handler';

/** The broker Lambda: dispatch requests from the webhook, runner destination records, the schedule. */
export const handler = createBrokerHandler();
