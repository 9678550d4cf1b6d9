import { BallastError } from '../../../../shared/src/errors.js';
import { KMOD_ALLOW_LIST, kmodAllowed, MODULES_LOAD_FILE } from '../../../../shared/src/tasks/safety.js';
import { lstatOrNull, readFileOrNull } from '../attrs.js';
import { tail } from '../../host/exec.js';
import { ensureManagedLine } from '../managed-lines.js';
import { hostPath, type Module, type ModuleContext } from '../module.js';

/**
 * What a module creates once it is in the kernel, for modules that may be built in without any
 * parameters — such a module has no /sys/module entry (and /proc/modules is absent in containers).
 */
const EVIDENCE: Readonly<Record<string, string>> = { br_netfilter: '/proc/sys/net/bridge' };

/**
 * True when the module is loaded (/proc/modules, where `-` reads `_`) or built into the kernel
 * (/sys/module/<name> exists without a /proc/modules line, or its {@link EVIDENCE} path exists):
 * `br_netfilter` is built in on some kernels.
 */
async function isLoaded(ctx: ModuleContext, name: string): Promise<{ loaded: boolean; builtin: boolean }> {
  const wanted = name.replaceAll('-', '_');
  const modules = (await readFileOrNull(hostPath(ctx, '/proc/modules'))) ?? '';
  if (modules.split('\n').some((line) => line.split(' ')[0] === wanted)) return { loaded: true, builtin: false };
  const evidence = [`/sys/module/${wanted}`, ...(EVIDENCE[wanted] === undefined ? [] : [EVIDENCE[wanted]])];
  for (const path of evidence) {
    if ((await lstatOrNull(hostPath(ctx, path)))?.isDirectory() === true) return { loaded: true, builtin: true };
  }
  return { loaded: false, builtin: false };
}

/** `kmod`: loaded now with modprobe and listed in modules-load.d for boot; or unloaded and unlisted. */
export const kmodModule: Module<'kmod'> = {
  name: 'kmod',
  async run(args, ctx) {
    if (!kmodAllowed(args.name)) {
      throw new BallastError('BALLAST_ERR_UNSAFE_VALUE', `failed to manage kernel module ${args.name}: not in the allow-list (${KMOD_ALLOW_LIST.join(', ')})`, {
        path: '/args/name',
      });
    }
    const present = args.state !== 'absent';
    const { loaded, builtin } = await isLoaded(ctx, args.name);
    const persisted = await ensureManagedLine(ctx, {
      path: MODULES_LOAD_FILE,
      allowed: [{ kind: 'file', path: MODULES_LOAD_FILE }],
      line: present ? args.name : null,
      matches: (line) => line.trim().replaceAll('-', '_') === args.name.replaceAll('-', '_'),
    });
    const actions: string[] = [];
    const diffs: string[] = [];
    if (persisted.changed) {
      actions.push(`${present ? 'list' : 'unlist'}${ctx.check ? '' : 'ed'} in ${MODULES_LOAD_FILE}`);
      if (persisted.diff) diffs.push(persisted.diff);
    }
    // A built-in module cannot be unloaded, and that is fine: absent only asks us not to load it.
    if (present !== loaded && !(builtin && !present)) {
      actions.push(`${present ? 'load' : 'unload'}${ctx.check ? '' : 'ed'} ${args.name}`);
      diffs.push(`module ${args.name}: ${loaded ? 'loaded' : 'not loaded'} → ${present ? 'loaded' : 'not loaded'}\n`);
      if (!ctx.check) {
        const argv = present ? ['modprobe', args.name] : ['modprobe', '-r', args.name];
        const result = await ctx.exec(argv, { signal: ctx.signal, timeoutMs: 60_000 });
        if (result.code !== 0) {
          throw new BallastError(
            'BALLAST_ERR_COMMAND_FAILED',
            `failed to ${present ? 'load' : 'unload'} kernel module ${args.name}: modprobe exited ${result.code}: ${tail(result.stderr)}`,
          );
        }
      }
    }
    if (actions.length === 0) return { changed: false, message: `kernel module ${args.name} is ${present ? 'loaded' : 'not loaded'}` };
    return { changed: true, message: `${ctx.check ? 'would ' : ''}${actions.join(', ')}`, diff: ctx.diff ? diffs.join('') : undefined };
  },
};
