import { describe, expect, it } from 'vitest';
import { createSystemctl } from './systemctl.js';
import { fakeExec, rejection } from '../tasks/testing.js';

describe('createSystemctl', () => {
  const states: Record<string, string> = {
    'is-enabled a.service': 'enabled',
    'is-enabled s.service': 'static',
    'is-active a.service': 'activating',
    'is-active b.service': 'failed',
    'is-active d.service': 'deactivating',
    'is-active m.service': 'maintenance',
  };
  const exec = fakeExec((argv) => {
    const state = states[`${argv[1]} ${argv[2]}`];
    if (state !== undefined) return { code: state === 'enabled' || state === 'static' ? 0 : 3, stdout: `${state}\n`, stderr: '' };
    if (argv[1] === 'restart' && argv[2] === 'bad.service') return { code: 1, stdout: '', stderr: 'Job for bad.service failed.\n' };
    return { code: 0, stdout: '', stderr: '' };
  });
  const systemd = createSystemctl({ exec });

  it('reads the state word, not the exit status', async () => {
    expect(await systemd.isEnabled('a.service')).toBe(true);
    expect(await systemd.isEnabled('s.service')).toBe(false);
    expect(await systemd.isActive('a.service')).toBe(true);
    expect(await systemd.isActive('b.service')).toBe(false);
    // A unit being stopped is neither up nor settled down: callers that stop units ask for the word.
    expect(await systemd.isActive('d.service')).toBe(false);
    expect(await systemd.activeState('d.service')).toBe('deactivating');
    expect(await systemd.activeState('b.service')).toBe('failed');
    expect(await systemd.activeState('m.service')).toBe('unknown');
  });

  it('runs actions as argv and fails them with systemctl’s words', async () => {
    await systemd.daemonReload();
    await systemd.enable('a.service');
    expect(exec.calls.slice(-2)).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'a.service'],
    ]);
    const err = await rejection(systemd.restart('bad.service'));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED', message: 'failed to restart bad.service: systemctl exited 1: Job for bad.service failed.' });
  });
});
