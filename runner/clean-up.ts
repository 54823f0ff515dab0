import type { RunnerResult } from './run-job';
import type { JobContext, Registration } from './job-context';
import { wipeWorkspace } from './job-workspace';
import type { ListenerRun } from './listener';
import { deleteRunner } from './registration';
import { sweepProcesses } from './sweep-processes';

/** Every exit path comes through here; each step runs even when an earlier one fails. */
export async function cleanUp(
  context: JobContext,
  registration: Registration | undefined,
  run: ListenerRun | undefined,
): Promise<Pick<RunnerResult, 'registrationDeleted' | 'processesKilled'>> {
  const { log, config } = context;
  // An ephemeral runner that finished its job has removed itself; any other still exists.
  const registrationDeleted =
    registration?.runnerId !== undefined && run?.outcome !== 'completed'
      ? await removeRegistration(context, registration.runnerId)
      : false;
  const processesKilled = await sweepProcesses({ tag: context.tag, since: context.sweepSince });
  if (processesKilled > 0) log.warn({ processesKilled }, 'killed processes the job left behind');
  const left = await wipeWorkspace(context.workspace, config.workRoot, config.ownsContainer);
  if (left.length > 0) log.error({ left }, 'could not remove every file of the job');
  return { registrationDeleted, processesKilled };
}

async function removeRegistration(context: JobContext, runnerId: number): Promise<boolean> {
  try {
    const deleted = await deleteRunner(context.client, context.target, runnerId);
    context.log.info({ runnerId, deleted }, 'runner registration removed');
    return deleted;
  } catch (error) {
    context.log.error({ err: error, runnerId }, 'could not delete the runner registration');
    return false;
  }
}
