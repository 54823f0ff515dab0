import { Probot } from 'probot';
import pino from 'pino';
import { createApp } from '../../app';
import { loadWebhookConfig } from '../../src/config';
import type { RunnerRequest } from '../../src/runner-request';
import { captureLog } from '../support/capture-log';
import { examplePayload, queuedJob } from '../support/webhook-events';

function setup(dispatch = jest.fn(async (_request: RunnerRequest) => undefined)) {
  const { log, records } = captureLog();
  const probot = new Probot({ githubToken: 'test', secret: 'test', log });
  const outcomes: unknown[] = [];
  const config = loadWebhookConfig({ WEBHOOK_SECRET: 'test', RUNNER_FUNCTION_NAME: 'runner' });
  probot.load(createApp({ config, dispatch, onOutcome: (_id, outcome) => outcomes.push(outcome) }));
  return { probot, dispatch, outcomes, records };
}

describe('the Probot app', () => {
  it('dispatches a queued job it serves, through probot.receive', async () => {
    const { probot, dispatch, outcomes } = setup();
    await probot.receive({ id: 'd-1', name: 'workflow_job', payload: queuedJob() as never });
    expect(dispatch).toHaveBeenCalledTimes(1);
    expect(dispatch.mock.calls[0]![0]).toMatchObject({
      jobId: 289782451,
      deliveryId: 'd-1',
      profile: 'default',
    });
    expect(outcomes).toEqual([
      { result: 'dispatched', profile: 'default', jobId: 289782451, deliveryId: 'd-1' },
    ]);
  });

  it('ignores a completed job and says why in one log line', async () => {
    const { probot, dispatch, records } = setup();
    await probot.receive({
      id: 'd-2',
      name: 'workflow_job',
      payload: examplePayload('workflow_job', 'completed') as never,
    });
    expect(dispatch).not.toHaveBeenCalled();
    expect(records().filter((r) => r.decision)).toEqual([
      expect.objectContaining({
        deliveryId: 'd-2',
        decision: 'ignored',
        reason: 'action "completed" is not "queued"',
      }),
    ]);
  });

  it('ignores a signed payload that lacks an installation', async () => {
    const payload = queuedJob();
    delete payload.installation;
    const { probot, dispatch, outcomes } = setup();
    await probot.receive({ id: 'd-3', name: 'workflow_job', payload: payload as never });
    expect(dispatch).not.toHaveBeenCalled();
    expect(outcomes).toEqual([
      { result: 'ignored', reason: expect.stringContaining('installationId') },
    ]);
  });
});

describe('npm start with a bad configuration', () => {
  it('prints every problem of webhook, broker and runner at once, without a stack, and exits 1', () => {
    const saved = { ...process.env };
    for (const name of ['WEBHOOK_SECRET', 'APP_ID', 'PRIVATE_KEY', 'GITHUB_APP_SECRET_ARN'])
      delete process.env[name];
    Object.assign(process.env, { RUNNER_LABELS: ',,,', RUNNER_SOURCE_DIR: '/nonexistent' });
    const exit = jest.spyOn(process, 'exit').mockImplementation(() => {
      throw new Error('process.exit');
    });
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const app = { log: pino({ level: 'silent' }), onAny: jest.fn() };
      expect(() => createApp()(app as unknown as Probot, {} as never)).toThrow('process.exit');
      expect(exit).toHaveBeenCalledWith(1);
      const message = String(error.mock.calls[0]?.[0]);
      expect(message).toMatch(/^lambda-runner: invalid configuration:/);
      expect(message).toContain('WEBHOOK_SECRET or WEBHOOK_SECRET_ARN is required');
      expect(message).toContain('RUNNER_LABELS must list at least one label');
      expect(message).toContain('APP_ID and PRIVATE_KEY, or GITHUB_APP_SECRET_ARN, are required');
      expect(message).toContain('RUNNER_SOURCE_DIR /nonexistent holds no bin/Runner.Listener');
      expect(message).not.toMatch(/\n\s+at /);
    } finally {
      exit.mockRestore();
      error.mockRestore();
      process.env = saved;
    }
  });
});
