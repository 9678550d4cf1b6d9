import { describe, expect, it } from 'vitest';
import { BallastError, type ErrorCode } from '../../../shared/src/errors.js';
import type { RunDocument } from '../../../shared/src/runs-api.js';
import { type RunStarter, runRole } from './role-runner.js';

const RECAP = { ok: 2, changed: 1, failed: 0, skipped: 0 };

/** A finished run of one host, as the orchestrator would report it. */
function finishedRun(id: string, host: string): RunDocument {
  const at = new Date(0).toISOString();
  return {
    id,
    role: 'os-prep',
    check: false,
    diff: false,
    status: 'succeeded',
    createdAt: at,
    createdBy: 'op-1',
    finishedAt: at,
    cancelRequestedBy: null,
    seq: 3,
    recap: RECAP,
    vars: {},
    hosts: [{ name: host, status: 'succeeded', startedAt: at, finishedAt: at, current: null, recap: RECAP, error: null, plan: [], results: [] }],
  };
}

/** A run starter that refuses each start with the next of `refusals`, then starts a run that is already done. */
function refusingStarter(refusals: BallastError[]): RunStarter & { starts: number } {
  const starter = {
    starts: 0,
    start(request: { hosts: string[] }): RunDocument {
      starter.starts += 1;
      const refusal = refusals.shift();
      if (refusal !== undefined) throw refusal;
      return finishedRun(`run-${starter.starts}`, request.hosts[0] ?? '?');
    },
    get: (id: string) => finishedRun(id, 'node-1'),
    waitForChange: async () => {},
    cancel: async (id: string) => finishedRun(id, 'node-1'),
  };
  return starter;
}

const refusal = (code: ErrorCode, text: string) => new BallastError(code, `failed to start run of role "os-prep": 1 problem: /hosts/0: ${text}`);

describe('runRole', () => {
  it('waits and retries while the host is busy or not connected (decided on codes), then runs', async () => {
    const runs = refusingStarter([
      refusal('BALLAST_ERR_HOST_NOT_CONNECTED', 'host "node-1" has no agent connected'),
      refusal('BALLAST_ERR_HOST_BUSY', 'host "node-1" is busy with run-0; wait for it or cancel it'),
      new BallastError('BALLAST_ERR_RUN_BUSY', 'failed to start run run-x: run run-0 is in progress on this host'),
    ]);
    const progress: string[] = [];
    const outcomes = await runRole({
      runs,
      role: 'os-prep',
      hosts: [{ host: 'node-1', vars: {} }],
      check: false,
      signal: new AbortController().signal,
      actor: 'op-1',
      retryMs: 1,
      progress: (m) => progress.push(m),
    });
    expect(runs.starts).toBe(4);
    expect(outcomes).toEqual([{ host: 'node-1', runId: 'run-4', recap: RECAP, changes: [], check: false }]);
    expect(progress).toHaveLength(3);
    expect(progress[0]).toMatch(/^node-1: waiting for the host to be free \(.*has no agent connected\)$/);
  });

  it('starts again when the agent refused the run as busy before any task ran (a run the old controller started)', async () => {
    const busy = finishedRun('run-1', 'node-1');
    const refused: RunDocument = {
      ...busy,
      status: 'failed',
      hosts: busy.hosts.map((h) => ({ ...h, status: 'failed' as const, error: { code: 'BALLAST_ERR_RUN_BUSY', message: 'failed to start run run-1: run run-0 is in progress on this host' } })),
    };
    const docs = new Map<string, RunDocument>();
    let starts = 0;
    const runs: RunStarter = {
      start: (request) => {
        starts += 1;
        const doc = starts === 1 ? refused : finishedRun(`run-${starts}`, request.hosts[0] ?? '?');
        docs.set(doc.id, doc);
        return doc;
      },
      get: (id) => docs.get(id) ?? finishedRun(id, 'node-1'),
      waitForChange: async () => {},
      cancel: async (id) => finishedRun(id, 'node-1'),
    };
    const progress: string[] = [];
    const outcomes = await runRole({ runs, role: 'os-prep', hosts: [{ host: 'node-1', vars: {} }], check: false, signal: new AbortController().signal, actor: 'op-1', retryMs: 1, progress: (m) => progress.push(m) });
    expect(starts).toBe(2);
    expect(outcomes[0]?.runId).toBe('run-2');
    expect(progress).toEqual(['node-1: waiting for the host to be free (failed to start run run-1: run run-0 is in progress on this host)']);
  });

  it('does not start again when a task of the run failed, whatever its code', async () => {
    const base = finishedRun('run-1', 'node-1');
    const at = base.createdAt;
    const failed: RunDocument = {
      ...base,
      status: 'failed',
      hosts: base.hosts.map((h) => ({
        ...h,
        status: 'failed' as const,
        error: { code: 'BALLAST_ERR_RUN_BUSY', message: 'busy' },
        results: [{ seq: 1, host: 'node-1', phase: 'task' as const, index: 0, name: 'install', module: 'file', status: 'failed' as const, durationMs: 1, diff: '', message: 'busy', error: { code: 'BALLAST_ERR_RUN_BUSY', message: 'busy' }, notified: [], at }],
      })),
    };
    let starts = 0;
    const runs: RunStarter = {
      start: () => {
        starts += 1;
        return failed;
      },
      get: () => failed, waitForChange: async () => {}, cancel: async () => failed };
    await expect(runRole({ runs, role: 'os-prep', hosts: [{ host: 'node-1', vars: {} }], check: false, signal: new AbortController().signal, actor: 'op-1', retryMs: 1 })).rejects.toMatchObject({ code: 'BALLAST_ERR_RUN_BUSY' });
    expect(starts).toBe(1);
  });

  it('does not retry other refusals, even when their text reads like a busy host', async () => {
    const runs = refusingStarter([refusal('BALLAST_ERR_VALIDATION', 'host "node-1" is busy with run-0 (and /vars/x: unknown variable)')]);
    const run = runRole({ runs, role: 'os-prep', hosts: [{ host: 'node-1', vars: {} }], check: false, signal: new AbortController().signal, actor: 'op-1', retryMs: 1 });
    await expect(run).rejects.toMatchObject({ code: 'BALLAST_ERR_VALIDATION' });
    expect(runs.starts).toBe(1);
  });

  it('stops retrying when the step is aborted', async () => {
    const busy = Array.from({ length: 1000 }, () => refusal('BALLAST_ERR_HOST_BUSY', 'host "node-1" is busy with run-0'));
    const runs = refusingStarter(busy);
    const abort = new AbortController();
    const run = runRole({ runs, role: 'os-prep', hosts: [{ host: 'node-1', vars: {} }], check: false, signal: abort.signal, actor: 'op-1', retryMs: 5 });
    setTimeout(() => abort.abort(new BallastError('BALLAST_ERR_CANCELLED', 'operation aborted')), 20);
    await expect(run).rejects.toMatchObject({ code: 'BALLAST_ERR_CANCELLED' });
    expect(runs.starts).toBeLessThan(1000);
  });
});
