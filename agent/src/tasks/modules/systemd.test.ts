import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { headerLine } from '../managed-file.js';
import { createModuleRegistry } from '../registry.js';
import { FakeSystemd, makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';

const registry = createModuleRegistry();
const UNIT = '[Unit]\nDescription=etcd\n[Service]\nExecStart=/usr/local/bin/etcd\n';
let root: string;
let systemd: FakeSystemd;
beforeEach(async () => {
  root = await makeTempRoot();
  systemd = new FakeSystemd();
});
const run = (args: Record<string, unknown>, check = false) => registry.run('systemd', args, testContext(root, { check, systemd }));

describe('systemd module', () => {
  const args = { unit: 'etcd.service', content: UNIT, dropIns: { '10-limits.conf': '[Service]\nLimitNOFILE=65536\n' }, enabled: true, state: 'started' };

  it('installs unit and drop-in, reloads, enables and starts; a second run changes nothing', async () => {
    const out = await run(args);
    expect(out.changed).toBe(true);
    expect(out.message).toBe(
      'created /etc/systemd/system/etcd.service, created /etc/systemd/system/etcd.service.d/10-limits.conf, daemon-reloaded, enabled etcd.service, started etcd.service',
    );
    expect(systemd.calls).toEqual(['daemon-reload', 'enable etcd.service', 'start etcd.service']);
    expect(await readFile(join(root, 'etc/systemd/system/etcd.service'), 'utf8')).toBe(`${headerLine('#')}\n${UNIT}`);
    expect(await readFile(join(root, 'etc/systemd/system/etcd.service.d/10-limits.conf'), 'utf8')).toContain('LimitNOFILE=65536');
    expect(out.diff).toContain('enabled: false → true\n');
    expect(out.diff).toContain('state: inactive → active\n');
    systemd.calls.length = 0;
    expect(await run(args)).toEqual({ changed: false, message: 'etcd.service is up to date' });
    expect(systemd.calls).toEqual([]);
  });

  it('daemon-reloads only when a unit file changed, and does not restart on its own', async () => {
    await run(args);
    systemd.calls.length = 0;
    const out = await run({ ...args, dropIns: { '10-limits.conf': '[Service]\nLimitNOFILE=1048576\n' } });
    expect(out.message).toBe('updated /etc/systemd/system/etcd.service.d/10-limits.conf (content), daemon-reloaded');
    expect(systemd.calls).toEqual(['daemon-reload']);
  });

  it('restarted always restarts (handlers)', async () => {
    systemd.active.add('etcd.service');
    expect(await run({ unit: 'etcd.service', state: 'restarted' })).toMatchObject({ changed: true, message: 'restarted etcd.service' });
    expect(await run({ unit: 'etcd.service', state: 'restarted' })).toMatchObject({ changed: true });
    expect(systemd.calls).toEqual(['restart etcd.service', 'restart etcd.service']);
  });

  it('try-restarted restarts a running unit and leaves a stopped one alone', async () => {
    expect(await run({ unit: 'kubelet.service', state: 'try-restarted' })).toMatchObject({ changed: false });
    expect(systemd.calls).toEqual([]);
    systemd.active.add('kubelet.service');
    expect(await run({ unit: 'kubelet.service', state: 'try-restarted' })).toMatchObject({ changed: true, message: 'restarted kubelet.service' });
    expect(systemd.calls).toEqual(['restart kubelet.service']);
  });

  it('stops and disables', async () => {
    systemd.enabled.add('x.service');
    systemd.active.add('x.service');
    const out = await run({ unit: 'x.service', enabled: false, state: 'stopped' });
    expect(out.message).toBe('disabled x.service, stopped x.service');
    expect(systemd.calls).toEqual(['disable x.service', 'stop x.service']);
  });

  it('check mode asks systemd but changes nothing', async () => {
    const before = await snapshotTree(root);
    const out = await run(args, true);
    expect(out.message).toBe(
      'would create /etc/systemd/system/etcd.service, create /etc/systemd/system/etcd.service.d/10-limits.conf, daemon-reload, enable etcd.service, start etcd.service',
    );
    expect(systemd.calls).toEqual([]);
    expect(await snapshotTree(root)).toEqual(before);
    expect((await run({ unit: 'etcd.service', state: 'restarted' }, true)).message).toBe('would restart etcd.service');
    expect(systemd.calls).toEqual([]);
  });

  it('refuses to replace a unit file it did not write', async () => {
    await run({ unit: 'a.service', content: UNIT });
    await writeFile(join(root, 'etc/systemd/system/a.service'), UNIT);
    expect(await rejection(run({ unit: 'a.service', content: `${UNIT}# more\n` }))).toMatchObject({ code: 'BALLAST_ERR_FILE_UNMANAGED' });
  });

  it('fails bad arguments with the field path and touches nothing', async () => {
    const before = await snapshotTree(root);
    expect(await rejection(run({ unit: 'etcd', state: 'started' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/unit' });
    expect(await rejection(run({ unit: 'etcd.service', state: 'running' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/state' });
    expect(await rejection(run({ unit: 'etcd.service', dropIns: { '../../evil.conf': 'x' } }))).toMatchObject({
      code: 'BALLAST_ERR_VALIDATION',
      path: '/args/dropIns/../../evil.conf',
    });
    expect(await snapshotTree(root)).toEqual(before);
    expect(systemd.calls).toEqual([]);
  });
});
