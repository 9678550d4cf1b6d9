import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createModuleRegistry } from '../registry.js';
import { type FakeExec, fakeExec, makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';
import { FSTAB_COMMENT } from './swap.js';

const registry = createModuleRegistry();
const SWAPS_HEADER = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
const FSTAB = ['UUID=abc / ext4 errors=remount-ro 0 1', '/swap.img none swap sw 0 0', '# /old swap swap sw 0 0', ''].join('\n');
let root: string;
let exec: FakeExec;

beforeEach(async () => {
  root = await makeTempRoot();
  await mkdir(join(root, 'proc'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'proc/swaps'), `${SWAPS_HEADER}/swap.img                               file\t\t2097148\t\t0\t\t-2\n`);
  await writeFile(join(root, 'etc/fstab'), FSTAB);
  await chmod(join(root, 'etc/fstab'), 0o644);
  exec = fakeExec(async (argv) => {
    if (argv[0] === 'swapoff') await writeFile(join(root, 'proc/swaps'), SWAPS_HEADER);
    return { code: 0, stdout: '', stderr: '' };
  });
});
const run = (check = false) => registry.run('swap', { state: 'off' }, testContext(root, { check, exec }));

describe('swap module', () => {
  it('turns swap off and comments out fstab swap lines, then reports no change', async () => {
    const out = await run();
    expect(out.message).toBe('turned off swap on /swap.img, commented out swap in /etc/fstab');
    expect(exec.calls).toEqual([['swapoff', '-a']]);
    expect(await readFile(join(root, 'etc/fstab'), 'utf8')).toBe(FSTAB.replace('/swap.img none', `${FSTAB_COMMENT}/swap.img none`));
    expect(out.diff).toContain(`-/swap.img none swap sw 0 0\n+${FSTAB_COMMENT}/swap.img none swap sw 0 0\n`);
    expect((await stat(join(root, 'etc/fstab'))).mode & 0o7777).toBe(0o644);
    expect(await run()).toEqual({ changed: false, message: 'swap is off' });
    expect(exec.calls).toHaveLength(1);
  });

  it('check mode touches nothing', async () => {
    const before = await snapshotTree(root);
    expect((await run(true)).message).toBe('would turn off swap on /swap.img, comment out swap in /etc/fstab');
    expect(exec.calls).toEqual([]);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('fails when swapoff fails', async () => {
    exec = fakeExec(() => ({ code: 255, stdout: '', stderr: 'swapoff: /swap.img: Operation not permitted' }));
    expect(await rejection(run())).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
  });

  it('fails bad arguments with the field path', async () => {
    expect(await rejection(registry.run('swap', { state: 'on' }, testContext(root)))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/state' });
  });
});
