import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { headerLine } from '../managed-file.js';
import { createModuleRegistry } from '../registry.js';
import { type FakeExec, fakeExec, makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';

const registry = createModuleRegistry();
let root: string;
let exec: FakeExec;
const PROC_MODULES = 'overlay 151552 0 - Live 0x0000000000000000\nnf_conntrack 172032 1 - Live 0x0000000000000000\n';

beforeEach(async () => {
  root = await makeTempRoot();
  await mkdir(join(root, 'proc'), { recursive: true });
  await writeFile(join(root, 'proc/modules'), PROC_MODULES);
  // A fake modprobe that loads into /proc/modules, as the kernel would.
  exec = fakeExec(async (argv) => {
    if (argv[0] === 'modprobe' && argv[1] === 'vxlan') return { code: 1, stdout: '', stderr: 'modprobe: FATAL: Module vxlan not found' };
    if (argv[0] === 'modprobe' && argv.length === 2) await writeFile(join(root, 'proc/modules'), `${PROC_MODULES}${argv[1]} 1 0 - Live 0x0\n`);
    return { code: 0, stdout: '', stderr: '' };
  });
});
const run = (args: Record<string, unknown>, check = false) => registry.run('kmod', args, testContext(root, { check, exec }));

describe('kmod module', () => {
  it('loads and persists, then reports no change', async () => {
    const out = await run({ name: 'br_netfilter' });
    expect(out.message).toBe('listed in /etc/modules-load.d/ballast.conf, loaded br_netfilter');
    expect(exec.calls).toEqual([['modprobe', 'br_netfilter']]);
    expect(await readFile(join(root, 'etc/modules-load.d/ballast.conf'), 'utf8')).toBe(`${headerLine('#')}\nbr_netfilter\n`);
    expect(await run({ name: 'br_netfilter' })).toEqual({ changed: false, message: 'kernel module br_netfilter is loaded' });
    expect(exec.calls).toHaveLength(1);
  });

  it('only persists a module already loaded, and counts built-in ones as loaded', async () => {
    expect((await run({ name: 'overlay' })).message).toBe('listed in /etc/modules-load.d/ballast.conf');
    await mkdir(join(root, 'sys/module/ip_tables'), { recursive: true });
    expect((await run({ name: 'ip_tables' })).message).toBe('listed in /etc/modules-load.d/ballast.conf');
    expect(exec.calls).toEqual([]);
    expect(await readFile(join(root, 'etc/modules-load.d/ballast.conf'), 'utf8')).toContain('overlay\nip_tables\n');
  });

  it('counts br_netfilter as built in when its sysctls exist without a /sys/module entry (containers too)', async () => {
    await mkdir(join(root, 'proc/sys/net/bridge'), { recursive: true });
    expect((await run({ name: 'br_netfilter' })).message).toBe('listed in /etc/modules-load.d/ballast.conf');
    expect(exec.calls).toEqual([]);
  });

  it('check mode touches nothing', async () => {
    const before = await snapshotTree(root);
    expect((await run({ name: 'br_netfilter' }, true)).message).toBe('would list in /etc/modules-load.d/ballast.conf, load br_netfilter');
    expect(exec.calls).toEqual([]);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('unloads and unlists when absent', async () => {
    await run({ name: 'overlay' });
    const out = await run({ name: 'overlay', state: 'absent' });
    expect(out.message).toBe('unlisted in /etc/modules-load.d/ballast.conf, unloaded overlay');
    expect(exec.calls).toEqual([['modprobe', '-r', 'overlay']]);
  });

  it('fails with modprobe’s words', async () => {
    const err = await rejection(run({ name: 'vxlan' }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    expect((err as Error).message).toContain('Module vxlan not found');
  });

  it('fails bad arguments with the field path', async () => {
    expect(await rejection(run({ name: 'Bad Name' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/name' });
  });
});
