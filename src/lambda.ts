import { createWebhookHandler } from './webhook-handler';

/** The webhook Lambda: API Gateway (REST or HTTP API) or a Function URL in front of it. */
export const handler = createWebhookHandler();
