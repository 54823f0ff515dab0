import { createJanitorHandler } from './janitor-handler';

/** The janitor Lambda, run on a schedule. */
export const handler = createJanitorHandler();
