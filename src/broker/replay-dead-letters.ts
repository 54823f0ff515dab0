import { recordBroker } from '../metrics';
import { parseRunnerRequest } from '../runner-request';
import { isSealed, withoutMac } from '../seal';
import type { DeadLetter, DeadLetters } from './dead-letters';
import { jobIdOf } from './queue-events';
import { dispatchJob, type BrokerDeps } from './dispatch-job';
import {
  BUILD_STATE_CHANGE,
  settleBuild,
  settleRunner,
  type BuildStateChange,
  type DestinationRecord,
} from './settle-runner';

export interface ReplayReport {
  readonly replayed: number;
  readonly requeued: number;
  readonly dropped: number;
}

/**
 * Replays the events the broker failed on (GitHub down past its retries, say): a dispatch
 * request is dispatched again, and dispatchJob itself checks the job still waits; a runner's
 * destination record is settled again. An event that fails again goes back with its replay
 * count raised, up to `maxReplays`; then, and for anything else, it is deleted with one line.
 */
export async function replayDeadLetters(
  letters: DeadLetters,
  deps: BrokerDeps & { maxReplays: number; maxLetters: number },
): Promise<ReplayReport> {
  const report = { replayed: 0, requeued: 0, dropped: 0 };
  while (report.replayed + report.requeued + report.dropped < deps.maxLetters) {
    const batch = await letters.receive(10);
    if (batch.length === 0) break;
    for (const letter of batch) report[await replayOne(letter, letters, deps)] += 1;
  }
  return report;
}

async function replayOne(
  letter: DeadLetter,
  letters: DeadLetters,
  deps: BrokerDeps & { maxReplays: number },
): Promise<keyof ReplayReport> {
  const event = letter.event as Record<string, unknown> | undefined;
  const fields = { jobId: jobIdOf(event), replays: letter.replays };
  if (letter.replays >= deps.maxReplays || !replayable(event, deps.sealKey)) {
    deps.log.warn(
      { ...fields, decision: 'dropped' },
      'dead letter dropped: replay limit reached, or not an event to replay',
    );
    await letters.remove(letter);
    return 'dropped';
  }
  try {
    const outcome = await replayEvent(event as Record<string, unknown>, deps);
    deps.log.info({ ...fields, decision: 'replayed', outcome }, 'dead letter replayed');
    recordBroker(deps.metrics, 'Replays', event?.kind === 'dispatch' ? 'dispatch' : 'destination');
    await letters.remove(letter);
    return 'replayed';
  } catch (error) {
    deps.log.error({ ...fields, err: error }, 'dead letter failed again: put back');
    await letters.requeue(letter);
    return 'requeued';
  }
}

function replayEvent(event: Record<string, unknown>, deps: BrokerDeps) {
  if (event.kind === 'dispatch') return dispatchJob(parseRunnerRequest(withoutMac(event)), deps);
  if (event.source === 'aws.codebuild')
    return settleBuild(event as unknown as BuildStateChange, deps);
  return settleRunner(event as unknown as DestinationRecord, deps);
}

function replayable(event: Record<string, unknown> | undefined, key: Buffer): boolean {
  if (!event) return false;
  if (event.kind === 'dispatch') return isSealed(event, key);
  if (event.source === 'aws.codebuild') return event['detail-type'] === BUILD_STATE_CHANGE;
  return 'requestContext' in event && 'requestPayload' in event;
}
