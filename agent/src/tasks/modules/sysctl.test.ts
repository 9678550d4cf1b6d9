import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { headerLine } from '../managed-file.js';
import { createModuleRegistry } from '../registry.js';
import { type FakeExec, fakeExec, makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';

const registry = createModuleRegistry();
const HEADER = `${headerLine('#')}\n`;
let root: string;
let exec: FakeExec;

/** A fake `sysctl -w` that writes /proc/sys under the root, like the kernel would. */
function sysctlExec(): FakeExec {
  return fakeExec(async (argv) => {
    const [name, value] = (argv[2] ?? '').split('=');
    if (argv[0] !== 'sysctl' || name === undefined || value === undefined) return { code: 1, stdout: '', stderr: 'bad call' };
    const path = join(root, 'proc/sys', name.replaceAll('.', '/'));
    try {
      await readFile(path);
    } catch {
      return { code: 255, stdout: '', stderr: `sysctl: cannot stat /proc/sys/${name.replaceAll('.', '/')}: No such file or directory` };
    }
    await writeFile(path, `${value}\n`);
    return { code: 0, stdout: `${name} = ${value}\n`, stderr: '' };
  });
}

beforeEach(async () => {
  root = await makeTempRoot();
  await mkdir(join(root, 'proc/sys/net/ipv4'), { recursive: true });
  await mkdir(join(root, 'proc/sys/net/core'), { recursive: true });
  await writeFile(join(root, 'proc/sys/net/ipv4/ip_forward'), '0\n');
  await writeFile(join(root, 'proc/sys/net/ipv4/tcp_rmem'), '4096\t131072\t6291456\n');
  await writeFile(join(root, 'proc/sys/net/core/somaxconn'), '4096\n');
  exec = sysctlExec();
});
const run = (args: Record<string, unknown>, check = false) => registry.run('sysctl', args, testContext(root, { check, exec }));

describe('sysctl module', () => {
  it('persists and applies, then reports no change', async () => {
    const out = await run({ name: 'net.ipv4.ip_forward', value: '1' });
    expect(out.message).toBe('persisted in /etc/sysctl.d/99-ballast.conf, set net.ipv4.ip_forward = 1');
    expect(out.diff).toContain('+net.ipv4.ip_forward = 1');
    expect(out.diff).toContain('net.ipv4.ip_forward: 0 → 1\n');
    expect(exec.calls).toEqual([['sysctl', '-w', 'net.ipv4.ip_forward=1']]);
    expect(await readFile(join(root, 'etc/sysctl.d/99-ballast.conf'), 'utf8')).toBe(`${HEADER}net.ipv4.ip_forward = 1\n`);
    expect(await run({ name: 'net.ipv4.ip_forward', value: '1' })).toEqual({ changed: false, message: 'net.ipv4.ip_forward = 1' });
    expect(exec.calls).toHaveLength(1);
  });

  it('keeps one line per key in a shared file', async () => {
    await run({ name: 'net.ipv4.ip_forward', value: '1' });
    await run({ name: 'net.core.somaxconn', value: '8192' });
    await run({ name: 'net/ipv4/ip_forward', value: '0' });
    expect(await readFile(join(root, 'etc/sysctl.d/99-ballast.conf'), 'utf8')).toBe(`${HEADER}net/ipv4/ip_forward = 0\nnet.core.somaxconn = 8192\n`);
  });

  it('compares multi-value keys word by word', async () => {
    const out = await run({ name: 'net.ipv4.tcp_rmem', value: '4096 131072  6291456' });
    expect(out.message).toBe('persisted in /etc/sysctl.d/99-ballast.conf');
    expect(exec.calls).toEqual([]);
  });

  it('check mode reads /proc/sys and touches nothing', async () => {
    const before = await snapshotTree(root);
    const out = await run({ name: 'net.ipv4.ip_forward', value: '1', file: '90-k8s.conf' }, true);
    expect(out.message).toBe('would persist in /etc/sysctl.d/90-k8s.conf, set net.ipv4.ip_forward = 1');
    expect(exec.calls).toEqual([]);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('fails with sysctl’s words when the key does not exist, after persisting it', async () => {
    const err = await rejection(run({ name: 'net.bridge.bridge-nf-call-iptables', value: '1' }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    expect((err as Error).message).toContain('cannot stat /proc/sys/net/bridge/bridge-nf-call-iptables');
  });

  it('will not edit a sysctl file someone else wrote', async () => {
    await mkdir(join(root, 'etc/sysctl.d'), { recursive: true });
    await writeFile(join(root, 'etc/sysctl.d/10-distro.conf'), 'kernel.panic = 10\n');
    expect(await rejection(run({ name: 'net.ipv4.ip_forward', value: '1', file: '10-distro.conf' }))).toMatchObject({
      code: 'BALLAST_ERR_FILE_UNMANAGED',
    });
  });

  it('fails bad arguments with the field path', async () => {
    expect(await rejection(run({ name: 'net.ipv4.ip_forward' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/value' });
    expect(await rejection(run({ name: 'x', value: '1', file: '../x' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/file' });
  });
});
