import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { RunHostState, RunProgress, RunTaskResult } from '../../../shared/src/runs-api.js';
import { parseHostList, parseRole } from './apply.js';
import { ProgressPrinter, recapText, resultLine, runHeader, statusLine } from './run-view.js';
import { parseRunId, runsTable } from './runs.js';

const view = { hostWidth: 6, diff: false, color: false };
const result = (over: Partial<RunTaskResult>): RunTaskResult => ({
  seq: 1,
  host: 'node-1',
  phase: 'task',
  index: 0,
  name: 'Disable swap',
  module: 'swap',
  status: 'changed',
  durationMs: 3,
  diff: '',
  message: '',
  notified: [],
  at: '2024-05-01T12:00:00.000Z',
  ...over,
});
const host = (over: Partial<RunHostState>): RunHostState => ({
  name: 'node-1',
  status: 'succeeded',
  startedAt: null,
  finishedAt: null,
  current: null,
  recap: { ok: 5, changed: 2, failed: 0, skipped: 0 },
  error: null,
  ...over,
});

describe('run output', () => {
  it('prints one Ansible-like line per finished task, with errors, skip reasons and indented diffs', () => {
    expect(resultLine(result({}), view)).toBe('node-1  TASK [Disable swap] ... changed\n');
    expect(resultLine(result({ host: 'cp-1', phase: 'handler', name: 'restart etcd', status: 'ok' }), view)).toBe('cp-1    HANDLER [restart etcd] ... ok\n');
    expect(resultLine(result({ status: 'failed', error: { code: 'BALLAST_ERR_IO', message: 'disk\nfull' } }), view)).toBe(
      'node-1  TASK [Disable swap] ... failed: BALLAST_ERR_IO: disk full\n',
    );
    expect(resultLine(result({ status: 'skipped', message: 'check mode' }), view)).toBe('node-1  TASK [Disable swap] ... skipped (check mode)\n');
    expect(resultLine(result({ diff: '-a\n+b\n' }), { ...view, diff: true })).toBe('node-1  TASK [Disable swap] ... changed\n      -a\n      +b\n');
    expect(resultLine(result({ diff: '-a\n+b\n' }), view)).not.toContain('+b');
  });

  it('colours the status only on a terminal', () => {
    expect(resultLine(result({}), { ...view, color: true })).toContain('\x1b[33mchanged\x1b[0m');
  });

  it('prints the PLAY RECAP aligned, with the status of hosts that did not succeed', () => {
    const text = recapText(
      [
        host({}),
        host({ name: 'node-10', status: 'failed', recap: { ok: 1, changed: 0, failed: 1, skipped: 4 } }),
        host({ name: 'n3', status: 'failed', recap: { ok: 0, changed: 0, failed: 0, skipped: 0 }, error: { code: 'BALLAST_ERR_PEER_GONE', message: 'agent disconnected' } }),
        host({ name: 'n4', status: 'running', current: { phase: 'task', index: 2, name: 'Install runc', module: 'artifact' } }),
      ],
      false,
    );
    expect(text).toBe(
      '\nPLAY RECAP\n' +
        'node-1  : ok=5 changed=2 failed=0 skipped=0\n' +
        'node-10 : ok=1 changed=0 failed=1 skipped=4   (failed)\n' +
        'n3      : ok=0 changed=0 failed=0 skipped=0   (failed: agent disconnected)\n' +
        'n4      : ok=5 changed=2 failed=0 skipped=0   (running: Install runc)\n',
    );
    expect(statusLine({ id: 'run-1', status: 'failed' }, [host({}), host({ name: 'node-10', status: 'failed' })])).toBe(
      '\nRun run-1 failed (1 of 2 hosts failed: node-10)\n',
    );
    expect(runHeader({ id: 'run-1', role: 'os-prep', check: true }, ['a', 'b'])).toBe('RUN run-1: role os-prep on a, b (check mode: nothing will be changed)\n');
  });

  it('the progress printer prints each result once and each host end once', () => {
    let out = '';
    const printer = new ProgressPrinter((s) => (out += s), view);
    const p = (results: RunTaskResult[], hosts: RunHostState[]): RunProgress =>
      ({ id: 'run-1', status: 'running', results, hosts }) as unknown as RunProgress;
    printer.print(p([result({ seq: 3 })], [host({ status: 'running' })]));
    printer.print(p([result({ seq: 3 }), result({ seq: 4, name: 'Load kernel module overlay', status: 'ok' })], [host({ status: 'running' })]));
    const gone = host({ status: 'failed', error: { code: 'BALLAST_ERR_PEER_GONE', message: 'agent disconnected' } });
    printer.print(p([], [gone]));
    printer.print(p([], [gone]));
    expect(out).toBe(
      'node-1  TASK [Disable swap] ... changed\n' +
        'node-1  TASK [Load kernel module overlay] ... ok\n' +
        'node-1  FAILED: BALLAST_ERR_PEER_GONE: agent disconnected\n',
    );
  });

  it('parses roles, host lists and run ids strictly', () => {
    expect(parseHostList('node-1, node-2,node-1,')).toEqual(['node-1', 'node-2']);
    expect(() => parseHostList(',')).toThrow(InvalidArgumentError);
    expect(() => parseHostList('Node_1')).toThrow(InvalidArgumentError);
    expect(parseRole('kube-node')).toBe('kube-node');
    expect(() => parseRole('Kube')).toThrow(InvalidArgumentError);
    expect(parseRunId('run-0123456789ab')).toBe('run-0123456789ab');
    expect(() => parseRunId('run-1')).toThrow(InvalidArgumentError);
  });

  it('lists runs as a table', () => {
    const item = {
      id: 'run-0123456789ab',
      role: 'containerd',
      check: false,
      diff: false,
      status: 'failed' as const,
      createdAt: '2024-05-01T12:00:00.000Z',
      createdBy: 'otto',
      finishedAt: null,
      cancelRequestedBy: null,
      seq: 9,
      recap: { ok: 9, changed: 3, failed: 1, skipped: 0 },
      hosts: ['a', 'b', 'c', 'd', 'e'],
    };
    expect(runsTable([item], Date.parse('2024-05-01T12:05:00Z'))).toBe(
      'ID                 ROLE         STATUS   MODE    HOSTS      RECAP                     AGE   BY\n' +
        'run-0123456789ab   containerd   failed   apply   a,b,c,+2   ok=9 changed=3 failed=1   5m    otto\n',
    );
  });
});
