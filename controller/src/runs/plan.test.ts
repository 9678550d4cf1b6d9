import { describe, expect, it } from 'vitest';
import type { BallastError } from '../../../shared/src/errors.js';
import { prepareRun } from './plan.js';
import type { RunTarget } from './ports.js';

const session = { request: () => Promise.reject(new Error('not used')) };
const TARGETS: Record<string, RunTarget> = {
  up: { id: 'h1', name: 'up', arch: 'amd64', address: '198.18.0.2', session },
  down: { id: 'h2', name: 'down', arch: 'amd64', address: '198.18.0.3', session: null },
  busy: { id: 'h3', name: 'busy', arch: 'amd64', address: '198.18.0.4', session },
};

/** The error prepareRun throws for `hosts` (the role renders nothing: only host problems matter here). */
function refusal(hosts: string[]): BallastError {
  try {
    prepareRun({
      runId: 'run-000000000001',
      request: { role: 'os-prep', hosts, check: false, diff: false, vars: {} },
      targets: { find: (name) => TARGETS[name] ?? null },
      render: () => ({ ok: false, problems: [{ path: '/vars', message: 'not rendered in this test' }] }),
      busy: new Map([['busy', 'run-000000000000']]),
      timeoutMs: 60_000,
    });
  } catch (err) {
    return err as BallastError;
  }
  throw new Error('prepareRun did not refuse');
}

describe('prepareRun refusals', () => {
  it('codes a busy host BALLAST_ERR_HOST_BUSY and a disconnected one BALLAST_ERR_HOST_NOT_CONNECTED', () => {
    expect(refusal(['busy'])).toMatchObject({ code: 'BALLAST_ERR_HOST_BUSY', message: expect.stringContaining('/hosts/0: host "busy" is busy with run-000000000000') });
    expect(refusal(['down'])).toMatchObject({ code: 'BALLAST_ERR_HOST_NOT_CONNECTED', message: expect.stringContaining('/hosts/0: host "down" has no agent connected') });
    expect(refusal(['busy', 'busy']).code).toBe('BALLAST_ERR_VALIDATION'); // listed twice: waiting cannot help
  });

  it('is BALLAST_ERR_VALIDATION as soon as one problem is not about waiting', () => {
    expect(refusal(['down', 'busy']).code).toBe('BALLAST_ERR_VALIDATION');
    expect(refusal(['down', 'ghost']).code).toBe('BALLAST_ERR_VALIDATION');
    expect(refusal(['up']).code).toBe('BALLAST_ERR_VALIDATION');
  });
});
