import { BallastError } from '../../../../shared/src/errors.js';
import { writeFileAtomic } from '../../../../shared/src/atomic-file.js';
import { lstatOrNull, readFileOrNull } from '../attrs.js';
import { tail } from '../../host/exec.js';
import { unifiedDiff } from '../managed-file.js';
import { hostPath, type Module } from '../module.js';

/** Marks lines we commented out, so a reader of fstab knows who did it and why. */
export const FSTAB_COMMENT = '# disabled by Ballast (kubelet needs swap off): ';

/** The active swap areas in /proc/swaps (first line is the header). */
export function activeSwaps(procSwaps: string): string[] {
  return procSwaps
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** fstab with every active swap line commented out; other lines byte-identical. */
export function commentOutSwap(fstab: string): string {
  return fstab
    .split('\n')
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      const isSwap = !line.trimStart().startsWith('#') && fields.length >= 3 && fields[2] === 'swap';
      return isSwap ? `${FSTAB_COMMENT}${line}` : line;
    })
    .join('\n');
}

/**
 * `swap: off`: `swapoff -a` when /proc/swaps lists any area, and swap lines in /etc/fstab commented
 * out so it stays off after a reboot (kubespray does the same). fstab is not ours, so only those
 * lines change, atomically, with its mode kept. Swap enabled by other means (systemd .swap units,
 * zram generators) is not handled here.
 */
export const swapModule: Module<'swap'> = {
  name: 'swap',
  async run(_args, ctx) {
    const actions: string[] = [];
    const diffs: string[] = [];
    const swaps = activeSwaps((await readFileOrNull(hostPath(ctx, '/proc/swaps'))) ?? '');
    if (swaps.length > 0) {
      actions.push(`${ctx.check ? 'turn' : 'turned'} off swap on ${swaps.join(', ')}`);
      diffs.push(`swap: ${swaps.join(', ')} → off\n`);
      if (!ctx.check) {
        const result = await ctx.exec(['swapoff', '-a'], { signal: ctx.signal, timeoutMs: 600_000 });
        if (result.code !== 0) {
          throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to turn swap off: swapoff exited ${result.code}: ${tail(result.stderr)}`);
        }
      }
    }
    const fstabPath = hostPath(ctx, '/etc/fstab');
    const fstab = await readFileOrNull(fstabPath);
    if (fstab !== null) {
      const updated = commentOutSwap(fstab);
      if (updated !== fstab) {
        actions.push(`${ctx.check ? 'comment' : 'commented'} out swap in /etc/fstab`);
        diffs.push(unifiedDiff('/etc/fstab', '/etc/fstab', fstab, updated));
        if (!ctx.check) {
          const mode = ((await lstatOrNull(fstabPath))?.mode ?? 0o644) & 0o7777;
          await writeFileAtomic(fstabPath, updated, mode);
        }
      }
    }
    if (actions.length === 0) return { changed: false, message: 'swap is off' };
    return { changed: true, message: `${ctx.check ? 'would ' : ''}${actions.join(', ')}`, diff: ctx.diff ? diffs.join('') : undefined };
  },
};
