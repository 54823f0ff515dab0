// Runs P1 with stdout going nowhere (the handler's log and metric lines are still written,
// as in Lambda) and reports the figures to the parent over IPC.
import { benchWarmWebhook } from './webhook';

void benchWarmWebhook().then((result) => process.send?.(result, () => process.exit(0)));
