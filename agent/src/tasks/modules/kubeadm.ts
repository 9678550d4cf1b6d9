/**
 * `kubeadm`: `init`, `join` or `reset`, each run at most once thanks to a guard on the files
 * kubeadm itself leaves behind:
 * - init is done when /etc/kubernetes/admin.conf exists;
 * - join is done when /etc/kubernetes/kubelet.conf exists;
 * - reset is done when none of admin.conf, kubelet.conf and manifests/kube-apiserver.yaml exist.
 * A done action is reported ok and touches nothing, not even the config file: the config only
 * matters to the run that creates the cluster, and rewriting it afterwards would suggest that
 * editing it changes something.
 *
 * Otherwise the config is written atomically, 0600 (it carries bootstrap tokens and the
 * certificate key), as a managed file, and kubeadm runs with a long timeout under the run's
 * signal. kubeadm's stdout is not put in the message: `init` prints the join command with its
 * token. Check mode says what would run and shows the config diff with secret values redacted.
 */
import { BallastError } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { redactYamlValues } from '../../../../shared/src/tasks/secrets.js';
import { lstatOrNull, readFileOrNull } from '../attrs.js';
import { tail } from '../exec.js';
import { ensureManagedFile, unifiedDiff, withHeader } from '../managed-file.js';
import { hostPath, type Module, type ModuleContext, type ModuleOutcome } from '../module.js';

type Args = ModuleArgs<'kubeadm'>;

/** kubeadm init can pull images and wait minutes for the control plane. */
export const DEFAULT_KUBEADM_TIMEOUT_MS = 20 * 60_000;
export const DEFAULT_KUBEADM_BINARY = '/usr/bin/kubeadm';
/** Where configs go unless the task says otherwise: `kubeadm-<action>.yaml` in here. */
export const KUBEADM_CONFIG_DIR = '/etc/kubernetes/ballast';

export const ADMIN_CONF = '/etc/kubernetes/admin.conf';
export const KUBELET_CONF = '/etc/kubernetes/kubelet.conf';
export const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';

/**
 * The document kinds an action's config must have one of (catches a join config sent to init and
 * the reverse before kubeadm runs). kubeadm init accepts either kind alone, so either will do.
 */
const ACCEPTED_KINDS: Record<'init' | 'join', string[]> = {
  init: ['InitConfiguration', 'ClusterConfiguration'],
  join: ['JoinConfiguration'],
};

/** Keys whose values are secrets in kubeadm configs; redacted in diffs. */
const SECRET_KEYS = ['token', 'certificateKey', 'tlsBootstrapToken'] as const;

/** See the file comment. */
export const kubeadmModule: Module<'kubeadm'> = {
  name: 'kubeadm',
  async run(args, ctx) {
    const binary = args.binary ?? DEFAULT_KUBEADM_BINARY;
    if (args.action === 'reset') return reset(args, ctx, binary);
    if (args.config === undefined) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to validate arguments of module kubeadm: ${args.action} needs a config`, { path: '/args/config' });
    }
    const kinds = ACCEPTED_KINDS[args.action];
    if (!kinds.some((kind) => new RegExp(`^kind:\\s*${kind}\\s*$`, 'm').test(args.config ?? ''))) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to validate arguments of module kubeadm: the ${args.action} config has no ${kinds.map((k) => `"kind: ${k}"`).join(' or ')} document`, {
        path: '/args/config',
      });
    }
    const guard = args.action === 'init' ? ADMIN_CONF : KUBELET_CONF;
    if ((await lstatOrNull(hostPath(ctx, guard))) !== null) {
      const done = args.action === 'init' ? 'already initialised' : 'already joined';
      return { changed: false, message: `${done} (${guard.split('/').pop()} exists)` };
    }

    const configPath = args.configPath ?? `${KUBEADM_CONFIG_DIR}/kubeadm-${args.action}.yaml`;
    const argv = [binary, args.action, '--config', hostPath(ctx, configPath), ...flags(args)];
    const shown = [binary, args.action, '--config', configPath, ...flags(args)].join(' ');
    const diff = ctx.diff ? await configDiff(ctx, configPath, args.config) : undefined;
    if (ctx.check) return { changed: true, message: `would write ${configPath} and run ${shown}`, diff };

    // The diff above is ours (redacted); the managed-file one would hide a 0600 file's content entirely.
    await ensureManagedFile({ ...ctx, diff: false }, { path: configPath, content: args.config, mode: '0600' });
    await runKubeadm(ctx, args, argv, shown);
    return { changed: true, message: `ran ${shown}`, diff };
  },
};

async function reset(args: Args, ctx: ModuleContext, binary: string): Promise<ModuleOutcome> {
  if (args.config !== undefined) {
    throw new BallastError('BALLAST_ERR_VALIDATION', 'failed to validate arguments of module kubeadm: reset takes no config', { path: '/args/config' });
  }
  const present: string[] = [];
  for (const path of [ADMIN_CONF, KUBELET_CONF, APISERVER_MANIFEST]) {
    if ((await lstatOrNull(hostPath(ctx, path))) !== null) present.push(path);
  }
  if (present.length === 0) return { changed: false, message: 'already reset (no admin.conf, kubelet.conf or kube-apiserver manifest)' };
  const argv = [binary, 'reset', '--force', ...flags(args)];
  const shown = argv.join(' ');
  const diff = ctx.diff ? present.map((p) => `- ${p}\n`).join('') : undefined;
  if (ctx.check) return { changed: true, message: `would run ${shown} (${present.join(', ')} ${present.length === 1 ? 'exists' : 'exist'})`, diff };
  await runKubeadm(ctx, args, argv, shown);
  return { changed: true, message: `ran ${shown}`, diff };
}

function flags(args: Args): string[] {
  const out: string[] = [];
  if (args.skipPhases !== undefined && args.skipPhases.length > 0) out.push(`--skip-phases=${args.skipPhases.join(',')}`);
  if (args.ignorePreflightErrors !== undefined && args.ignorePreflightErrors.length > 0) {
    out.push(`--ignore-preflight-errors=${args.ignorePreflightErrors.join(',')}`);
  }
  return out;
}

async function runKubeadm(ctx: ModuleContext, args: Args, argv: string[], shown: string): Promise<void> {
  const started = Date.now();
  const result = await ctx.exec(argv, { signal: ctx.signal, timeoutMs: args.timeoutMs ?? DEFAULT_KUBEADM_TIMEOUT_MS });
  ctx.log.info({ action: args.action, code: result.code, ms: Date.now() - started }, 'ran kubeadm');
  if (result.code !== 0) {
    throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to run ${shown}: exit ${result.code}: ${tail(result.stderr || result.stdout)}`);
  }
}

/** The unified diff of the config file as it is → as it would be written, secret values redacted. */
async function configDiff(ctx: ModuleContext, path: string, config: string): Promise<string> {
  const before = await readFileOrNull(hostPath(ctx, path));
  const after = withHeader(config, '#');
  if (before === after) return '';
  return unifiedDiff(before === null ? '/dev/null' : path, path, redact(before ?? ''), redact(after));
}

/** Replaces the values of secret keys (bootstrap token, certificate key) with `<redacted>`. */
export function redactKubeadmConfig(text: string): string {
  return redactYamlValues(text, SECRET_KEYS);
}
const redact = redactKubeadmConfig;
