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
    systemd.enabled.add('containerd.service');
    systemd.active.add('containerd.service');
    const out = await run({ unit: 'containerd.service', enabled: false, state: 'stopped' });
    expect(out.message).toBe('disabled containerd.service, stopped containerd.service');
    expect(systemd.calls).toEqual(['disable containerd.service', 'stop containerd.service']);
  });

  it('a unit still deactivating is stopped (the stop waits and cancels a start queued meanwhile), or started behind the stop', async () => {
    // Found on real Kubernetes: etcd without quorum takes seconds to stop; a reset that took
    // "deactivating" for stopped left it to the supervisor's queued start, running after the reset.
    systemd.active.add('etcd.service');
    systemd.states.set('etcd.service', 'deactivating');
    const out = await run({ unit: 'etcd.service', state: 'stopped' });
    expect(out).toMatchObject({ changed: true, message: 'stopped etcd.service' });
    expect(out.diff).toBe('state: deactivating → inactive\n');
    expect(systemd.calls).toEqual(['stop etcd.service']);
    systemd.calls.length = 0;
    systemd.states.set('etcd.service', 'deactivating');
    expect(await run({ unit: 'etcd.service', state: 'started' })).toMatchObject({ changed: true, message: 'started etcd.service' });
    expect(systemd.calls).toEqual(['start etcd.service']);
    // Settled states need nothing: failed is down, activating is on its way up.
    systemd.calls.length = 0;
    systemd.states.set('etcd.service', 'failed');
    expect(await run({ unit: 'etcd.service', state: 'stopped' })).toMatchObject({ changed: false });
    systemd.states.set('etcd.service', 'activating');
    expect(await run({ unit: 'etcd.service', state: 'started' })).toMatchObject({ changed: false });
    expect(systemd.calls).toEqual([]);
  });

  it('manages only the units the roles install: ssh.service is refused, even just to stop it (BALLAST_ERR_UNSAFE_VALUE)', async () => {
    systemd.active.add('ssh.service');
    expect(await rejection(run({ unit: 'ssh.service', state: 'stopped' }))).toMatchObject({ code: 'BALLAST_ERR_UNSAFE_VALUE', path: '/args/unit' });
    expect(await rejection(run({ unit: 'evil.service', content: UNIT }))).toMatchObject({ code: 'BALLAST_ERR_UNSAFE_VALUE' });
    expect(systemd.calls).toEqual([]);
  });

  it('refuses unit content that runs anything but the roles’ binaries, before writing any file', async () => {
    const before = await snapshotTree(root);
    const refuse = async (content: string, code: string, text: string, dropIn = false) => {
      const a = dropIn ? { unit: 'kubelet.service', content: UNIT, dropIns: { '10-x.conf': content } } : { unit: 'etcd.service', content };
      const err = await rejection(run(a));
      expect(err, content).toMatchObject({ code, path: dropIn ? '/args/dropIns/10-x.conf' : '/args/content' });
      expect((err as Error).message).toContain(text);
    };
    await refuse('[Service]\nExecStart=/tmp/evil\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'line 2: ExecStart= runs "/tmp/evil", which is not a binary the roles install');
    await refuse('[Service]\nExecStart=/usr/local/bin/etcd\nExecStopPost=-/bin/sh -c "id > /tmp/x"\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'ExecStopPost= runs "/bin/sh"');
    await refuse('[Service]\nExecStart=\nExecStart=/usr/bin/bash\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'ExecStart= runs "/usr/bin/bash"', true);
    await refuse('[Service]\nExecStartPre=etcd\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'runs "etcd"'); // relative: PATH lookup
    await refuse('[Service]\nExecStart=/usr/local/bin/%n\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'runs "/usr/local/bin/%n"');
    await refuse('[Service]\nExecStart=/usr/local/bin/etcd ; /tmp/evil\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'one command per line');
    await refuse('[Service]\nExecStart=\\\n  /tmp/evil\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'runs "/tmp/evil"'); // a continuation line
    await refuse('[Service]\nExecStartPre=/sbin/modprobe evil\n', 'BALLAST_ERR_COMMAND_NOT_ALLOWED', 'may only load allow-listed kernel modules');
    await refuse('[Service]\nExecStart=/usr/local/bin/etcd\nBindPaths=/tmp/evil:/usr/local/bin/etcd\n', 'BALLAST_ERR_UNSAFE_VALUE', 'BindPaths= in [Service] is not in the allow-list');
    await refuse('[Service]\nRootDirectory=/tmp/root\nExecStart=/usr/local/bin/etcd\n', 'BALLAST_ERR_UNSAFE_VALUE', 'RootDirectory=');
    await refuse('[Service]\nEnvironment="LD_PRELOAD=/tmp/evil.so"\nExecStart=/usr/local/bin/etcd\n', 'BALLAST_ERR_UNSAFE_VALUE', 'sets "LD_PRELOAD"', true);
    await refuse('[Service]\nEnvironmentFile=/tmp/env\n', 'BALLAST_ERR_UNSAFE_VALUE', 'reads "/tmp/env"');
    await refuse('[Socket]\nListenStream=/run/x\n', 'BALLAST_ERR_UNSAFE_VALUE', 'section [Socket] is not allowed');
    expect(await snapshotTree(root)).toEqual(before);
    expect(systemd.calls).toEqual([]);
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
    await run({ unit: 'etcd.service', content: UNIT });
    await writeFile(join(root, 'etc/systemd/system/etcd.service'), UNIT);
    expect(await rejection(run({ unit: 'etcd.service', content: `${UNIT}# more\n` }))).toMatchObject({ code: 'BALLAST_ERR_FILE_UNMANAGED' });
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
