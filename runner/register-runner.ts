import type { RunnerRequest } from '../src/runner-request';
import { configureRunner } from './configure-runner';
import { registeredLabel } from './janitor';
import type { JobContext, Registration } from './job-context';
import { createWorkspace } from './job-workspace';
import { createRegistrationToken, findRunnerGroupId, generateJitConfig } from './registration';
import { prepareRunnerRoot } from './runner-layout';

/**
 * Lays out the runner root while GitHub registers the runner: the two do not wait on each other.
 * The registration is recorded in `held` as soon as it exists, so a failure after it (a layout
 * that could not be written) still lets the clean-up delete it.
 */
export async function registerRunner(
  request: RunnerRequest,
  context: JobContext,
  held: { registration?: Registration },
): Promise<Registration> {
  const { config, workspace } = context;
  const prepared = Promise.all([
    prepareRunnerRoot(config.sourceDir, workspace.root, config.layout),
    createWorkspace(workspace),
  ]).then(() => undefined);
  const [layout, registration] = await Promise.allSettled([
    prepared,
    config.registration === 'token'
      ? registerWithToken(request, context, prepared, held)
      : registerJustInTime(request, context, held),
  ]);
  if (registration.status === 'rejected') throw registration.reason;
  if (layout.status === 'rejected') throw layout.reason;
  return registration.value;
}

async function registerJustInTime(
  request: RunnerRequest,
  context: JobContext,
  held: { registration?: Registration },
) {
  const groupId = await groupIdFor(request, context);
  const { runnerId, jitConfig } = await generateJitConfig(context.client, context.target, {
    name: context.name,
    labels: [...request.labels, registeredLabel()],
    groupId,
    workFolder: '_work',
  });
  held.registration = { args: ['run', '--jitconfig', jitConfig], runnerId };
  return held.registration;
}

async function registerWithToken(
  request: RunnerRequest,
  context: JobContext,
  prepared: Promise<void>,
  held: { registration?: Registration },
) {
  const { config, target } = context;
  const token = await createRegistrationToken(context.client, target);
  await prepared;
  const url = `${config.webBaseUrl}/${target.scope === 'org' ? target.owner : `${target.owner}/${target.repo}`}`;
  const group = target.scope === 'org' ? (request.group ?? config.group) : undefined;
  const runnerId = await configureRunner({
    root: context.workspace.root,
    url,
    token,
    name: context.name,
    labels: [...request.labels, registeredLabel()],
    group,
    env: context.env,
    timeoutMs: 60_000,
  });
  held.registration = { args: ['run'], runnerId };
  return held.registration;
}

async function groupIdFor(request: RunnerRequest, context: JobContext): Promise<number> {
  const group = request.group ?? context.config.group;
  const key = `${context.target.scope}:${context.target.owner}:${group}`.toLowerCase();
  const cached = context.groupIds?.get(key);
  if (cached !== undefined) return cached;
  const id = await findRunnerGroupId(context.client, context.target, group);
  context.groupIds?.set(key, id);
  return id;
}
