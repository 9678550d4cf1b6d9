import { BallastError } from '../../../../shared/src/errors.js';
import { type PathRule, sysctlProblem } from '../../../../shared/src/tasks/safety.js';
import { readFileOrNull } from '../attrs.js';
import { tail } from '../../host/exec.js';
import { ensureManagedLine } from '../managed-lines.js';
import { hostPath, type Module } from '../module.js';

/** Our file sorts last in /etc/sysctl.d, so our values win over distribution defaults. */
export const DEFAULT_SYSCTL_FILE = '99-ballast.conf';

/** The only place the module writes. */
const SYSCTL_FILES: readonly PathRule[] = [{ kind: 'under', path: '/etc/sysctl.d' }];

/** `net.ipv4.ip_forward` and `net/ipv4/ip_forward` name the same key (sysctl(8) accepts both). */
export function sysctlPath(name: string): string {
  return name.includes('/') ? name : name.replaceAll('.', '/');
}

/** /proc/sys separates multi-value keys with tabs; sysctl.conf with spaces. Compare them word by word. */
function normalizeValue(value: string): string {
  return value.trim().split(/\s+/).join(' ');
}

/**
 * `sysctl`: persists `<name> = <value>` as one line of /etc/sysctl.d/<file> (other keys in the file
 * stay) and applies it now with `sysctl -w` when /proc/sys differs. A key missing from /proc/sys
 * (its kernel module not loaded yet) is a change; applying it then fails with sysctl's own words.
 */
export const sysctlModule: Module<'sysctl'> = {
  name: 'sysctl',
  async run(args, ctx) {
    // The allow-list is checked here too: the agent refuses on its own, whatever the controller sent.
    const refused = sysctlProblem(args.name, args.value);
    if (refused !== null) throw new BallastError('BALLAST_ERR_UNSAFE_VALUE', `failed to set sysctl: ${refused}`, { path: '/args/name' });
    const key = sysctlPath(args.name);
    const value = normalizeValue(args.value);
    const file = `/etc/sysctl.d/${args.file ?? DEFAULT_SYSCTL_FILE}`;
    const persisted = await ensureManagedLine(ctx, {
      path: file,
      allowed: SYSCTL_FILES,
      line: `${args.name} = ${value}`,
      matches: (line) => {
        const match = /^\s*-?\s*([^#;=\s][^=]*?)\s*=/.exec(line);
        return match !== null && sysctlPath(match[1] ?? '') === key;
      },
    });
    const current = await readFileOrNull(hostPath(ctx, `/proc/sys/${key}`));
    const live = current === null ? null : normalizeValue(current);
    const actions: string[] = [];
    const diffs: string[] = [];
    if (persisted.changed) {
      actions.push(`${ctx.check ? 'persist' : 'persisted'} in ${file}`);
      if (persisted.diff) diffs.push(persisted.diff);
    }
    if (live !== value) {
      actions.push(`set ${args.name} = ${value}`);
      diffs.push(`${args.name}: ${live ?? '(not present)'} → ${value}\n`);
      if (!ctx.check) {
        const result = await ctx.exec(['sysctl', '-w', `${args.name}=${value}`], { signal: ctx.signal, timeoutMs: 30_000 });
        if (result.code !== 0) {
          throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to set ${args.name}: sysctl exited ${result.code}: ${tail(result.stderr)}`);
        }
      }
    }
    if (actions.length === 0) return { changed: false, message: `${args.name} = ${value}` };
    return { changed: true, message: `${ctx.check ? 'would ' : ''}${actions.join(', ')}`, diff: ctx.diff ? diffs.join('') : undefined };
  },
};
