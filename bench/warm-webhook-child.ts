// Runs P1 with stdout going nowhere (the handler's log and metric lines are still written,
// as in Lambda) and reports the figures to the parent over IPC.
import { benchDecisionPath, benchWarmWebhook } from './webhook';

void (async () => {
  const warm = await benchWarmWebhook();
  const decision = await benchDecisionPath();
  process.send?.({ ...warm, decisionP50: decision.p50, decisionP99: decision.p99 }, () =>
    process.exit(0),
  );
})();
