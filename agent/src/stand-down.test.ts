import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BallastError } from '../../shared/src/errors.js';
import { silentLogger } from '../../shared/src/log.js';
import { createExec } from './host/exec.js';
import { isTakenOut, REMOVE_PODS_ARGV, removePodsWithCrictl, standDown, TAKEN_OUT_MARKER } from './stand-down.js';

describe('standDown (real marker files, a recording systemd port)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const setup = (failStop?: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-standdown-'));
    dirs.push(dir);
    const calls: string[] = [];
    const systemd = {
      stop: async (unit: string) => {
        calls.push(`stop ${unit}`);
        if (unit === failStop) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to stop ${unit}: systemctl exited 5: Unit not loaded`);
      },
      disable: async (unit: string) => {
        calls.push(`disable ${unit}`);
      },
    };
    const ports = { dataDir: dir, systemd, pauseSupervisor: () => calls.push('pause supervisor'), excludeVip: async (why: string) => void calls.push(`exclude vip: ${why}`), removePods: async () => {
        calls.push('remove pods');
        return '3 pod sandboxes removed';
      }, log: silentLogger(), now: () => 0 };
    return { dir, calls, ports };
  };

  it('marks first, pauses the supervisor, leaves the VIP, stops and disables kubelet, removes the pods it left running, then etcd', async () => {
    const { dir, calls, ports } = setup();
    expect(await isTakenOut(dir)).toBe(false);
    expect(await standDown(ports, 'host "h1" was taken out of its cluster by op-1 (node.replace)')).toEqual([]);
    expect(calls).toEqual([
      'pause supervisor',
      'exclude vip: host "h1" was taken out of its cluster by op-1 (node.replace)',
      'stop kubelet.service',
      'disable kubelet.service',
      'remove pods',
      'stop etcd.service',
      'disable etcd.service',
    ]);
    expect(await isTakenOut(dir)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, TAKEN_OUT_MARKER), 'utf8'))).toEqual({ at: '1970-01-01T00:00:00.000Z', reason: 'host "h1" was taken out of its cluster by op-1 (node.replace)' });
  });

  it('self-fence mode: the same order, but no taken-out marker and nothing disabled (the host comes back)', async () => {
    const { dir, calls, ports } = setup();
    expect(await standDown(ports, 'self-fence: no controller and no etcd quorum', 'self-fence')).toEqual([]);
    expect(calls).toEqual(['pause supervisor', 'exclude vip: self-fence: no controller and no etcd quorum', 'stop kubelet.service', 'remove pods', 'stop etcd.service']);
    expect(await isTakenOut(dir)).toBe(false);
  });

  it('a step that fails is reported and the others still run; running it again converges', async () => {
    const { calls, ports } = setup('kubelet.service');
    expect(await standDown(ports, 'x')).toEqual(['stop kubelet.service: failed to stop kubelet.service: systemctl exited 5: Unit not loaded']);
    expect(calls.filter((c) => c.startsWith('disable'))).toEqual(['disable kubelet.service', 'disable etcd.service']);
    expect(await standDown({ ...ports, systemd: { stop: async () => {}, disable: async () => {} } }, 'x')).toEqual([]);
  });

  it('removePodsWithCrictl: crictl rmp --all --force; no crictl is a note, a failing crictl an error', async () => {
    const seen: string[][] = [];
    const ok = await removePodsWithCrictl(async (argv) => {
      seen.push(argv);
      return { code: 0, stdout: 'Stopped sandbox a\nRemoved sandbox a\nStopped sandbox b\nRemoved sandbox b\n', stderr: '' };
    });
    expect(seen).toEqual([[...REMOVE_PODS_ARGV]]);
    expect(ok).toBe('2 pod sandboxes removed');
    await expect(removePodsWithCrictl(async () => ({ code: 1, stdout: '', stderr: 'connect: no such file or directory' }))).rejects.toThrow(/exited 1: connect: no such file/);
    // The real exec port, on a machine where crictl is not on PATH (this test's PATH is emptied).
    const exec = createExec();
    const none = await removePodsWithCrictl((argv, o) => exec(argv, { ...o, env: { PATH: '/nonexistent' } }));
    expect(none).toMatch(/^no crictl here/);
  });
});
