/**
 * `kubeadm`: `init`, `join` or `reset`, each run until it has succeeded once:
 * - init and join are done when their success marker, /etc/kubernetes/ballast/kubeadm-<action>.done,
 *   exists. The marker is written atomically only after kubeadm exited 0 — kubeadm exits 0 only
 *   once its wait-control-plane phase saw the API server answer (init, control-plane join) or the
 *   kubelet's TLS bootstrap finished (join). The files kubeadm leaves behind (admin.conf,
 *   kubelet.conf) are not proof: a failed init writes admin.conf before it waits for the control
 *   plane, and counting that as done made a resumed operation skip the init that had failed.
 * - When those files exist without the marker, a previous run failed half-way: kubeadm's own
 *   preflight would refuse to run over them, so the module runs `kubeadm reset --force` first
 *   (keeping /etc/kubernetes/pki, see kubeadm-pki.ts) and then the action again. Known hazard,
 *   decided: a node initialised by a Ballast older than the markers (0.1.0 before 2026-12-07) has
 *   the files and no marker, so a second `cluster create` over it would reset and re-run it; no
 *   cluster of that age exists outside the lab, so there is no adoption path.
 * - reset is done when none of admin.conf, kubelet.conf, manifests/kube-apiserver.yaml and the
 *   markers exist; it removes the markers after kubeadm reset succeeded, so a later init runs.
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
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { writeFileAtomic } from '../../../../shared/src/atomic-file.js';
import { redactYamlValues } from '../../../../shared/src/tasks/secrets.js';
import { lstatOrNull, readFileOrNull } from '../attrs.js';
import { tail } from '../../host/exec.js';
import { ensureManagedFile, unifiedDiff, withHeader } from '../managed-file.js';
import { restorePki, savePki } from './kubeadm-pki.js';
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
/** The files kubeadm init/join leave behind, whether they succeeded or not; reset removes them. */
const LEFTOVERS = [ADMIN_CONF, KUBELET_CONF, APISERVER_MANIFEST];

/** Written (atomically) only after `kubeadm <action>` exited 0: the module's "done" guard. */
export function successMarker(action: 'init' | 'join'): string {
  return `${KUBEADM_CONFIG_DIR}/kubeadm-${action}.done`;
}
const MARKERS = [successMarker('init'), successMarker('join')];

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
    const marker = successMarker(args.action);
    if ((await lstatOrNull(hostPath(ctx, marker))) !== null) {
      const done = args.action === 'init' ? 'already initialised' : 'already joined';
      return { changed: false, message: `${done} (${basename(marker)} exists)` };
    }
    // Files without the marker: an earlier run failed half-way (see the file comment).
    const halfDone = await existing(ctx, LEFTOVERS);
    const resetArgv = [binary, 'reset', '--force', ...resetFlags({})];
    const resetWhy =
      halfDone.length === 0 ? '' : `a previous ${args.action} did not succeed: ${halfDone.map(basename).join(', ')} ${halfDone.length === 1 ? 'exists' : 'exist'} without ${basename(marker)}`;

    const configPath = args.configPath ?? `${KUBEADM_CONFIG_DIR}/kubeadm-${args.action}.yaml`;
    const argv = [binary, args.action, '--config', hostPath(ctx, configPath), ...flags(args)];
    const shown = [binary, args.action, '--config', configPath, ...flags(args)].join(' ');
    const resetShown = resetWhy === '' ? '' : `${resetArgv.join(' ')} (${resetWhy}), then `;
    const diff = ctx.diff ? await configDiff(ctx, configPath, args.config) : undefined;
    if (ctx.check) return { changed: true, message: `would write ${configPath} and run ${resetShown}${shown}`, diff };

    // The diff above is ours (redacted); the managed-file one would hide a 0600 file's content entirely.
    await ensureManagedFile({ ...ctx, diff: false }, { path: configPath, content: args.config, mode: '0600' });
    if (resetWhy !== '') {
      // kubeadm reset empties the PKI directory, which holds the controller's CAs: keep them.
      const pki = await savePki(ctx);
      await runKubeadm(ctx, args, resetArgv, resetArgv.join(' '));
      await restorePki(ctx, pki);
    }
    await runKubeadm(ctx, args, argv, shown);
    const sha = createHash('sha256').update(args.config).digest('hex');
    await writeFileAtomic(hostPath(ctx, marker), `succeeded ${new Date().toISOString()} config-sha256=${sha}\n`, 0o600);
    return { changed: true, message: `ran ${resetShown}${shown}`, diff };
  },
};

function basename(path: string): string {
  return path.split('/').pop() ?? path;
}

/** Those of `paths` that exist on the host. */
async function existing(ctx: ModuleContext, paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) if ((await lstatOrNull(hostPath(ctx, path))) !== null) out.push(path);
  return out;
}

async function reset(args: Args, ctx: ModuleContext, binary: string): Promise<ModuleOutcome> {
  if (args.config !== undefined) {
    throw new BallastError('BALLAST_ERR_VALIDATION', 'failed to validate arguments of module kubeadm: reset takes no config', { path: '/args/config' });
  }
  const present = await existing(ctx, [...LEFTOVERS, ...MARKERS]);
  if (present.length === 0) return { changed: false, message: 'already reset (no admin.conf, kubelet.conf or kube-apiserver manifest)' };
  if (present.every((path) => MARKERS.includes(path))) {
    // kubeadm's files are gone (reset by hand?): only the markers would make the next init a no-op.
    const message = `${ctx.check ? 'would remove' : 'removed'} ${present.map(basename).join(', ')} (kubeadm's files are already gone)`;
    if (!ctx.check) await removeMarkers(ctx);
    return { changed: true, message, diff: ctx.diff ? present.map((p) => `- ${p}\n`).join('') : undefined };
  }
  const argv = [binary, 'reset', '--force', ...resetFlags(args)];
  const shown = argv.join(' ');
  const diff = ctx.diff ? present.map((p) => `- ${p}\n`).join('') : undefined;
  if (ctx.check) return { changed: true, message: `would run ${shown} (${present.join(', ')} ${present.length === 1 ? 'exists' : 'exist'})`, diff };
  await runKubeadm(ctx, args, argv, shown);
  // Only after kubeadm reset succeeded: a marker left behind would make the next init a no-op.
  await removeMarkers(ctx);
  return { changed: true, message: `ran ${shown}`, diff };
}

async function removeMarkers(ctx: ModuleContext): Promise<void> {
  for (const marker of MARKERS) await rm(hostPath(ctx, marker), { force: true });
}

/**
 * kubeadm reset's phase that removes a *stacked* etcd member: Ballast runs etcd itself (external
 * etcd, its own membership steps behind the quorum guard), and kubeadm 1.36, finding neither a
 * local etcd in the config nor an etcd static pod, falls back to the default data directory
 * `/var/lib/etcd` and empties it — the live data of the member Ballast runs on the same host (seen
 * in the real-Kubernetes lab: a join interrupted by a controller SIGKILL was reset, and the host's
 * etcd died 25 s later with its WAL gone). Always skipped.
 */
export const RESET_SKIPPED_PHASES = ['remove-etcd-member'] as const;

/**
 * kubeadm reset reads no cluster: `--kubeconfig=/dev/null` (an empty kubeconfig, so kubeadm has no
 * client). With its default admin.conf, reset on a control plane first fetches the kubeadm-config
 * ConfigMap and then polls for this node's kube-apiserver mirror pod annotation for up to
 * KubernetesAPICall (1 min, cmd/kubeadm/app/util/config/cluster.go getAPIEndpointWithRetry), each
 * call through the VIP with a 10 s client timeout. What it fetches serves only the stacked-etcd
 * member removal Ballast skips ({@link RESET_SKIPPED_PHASES}) and the certificates directory (the
 * default, /etc/kubernetes/pki, which Ballast uses). When the mirror pod is missing (a join
 * interrupted before kubelet mirrored it, a Node already deleted) or the API is unreachable, that
 * poll runs to its deadline — the likely cause of the 62 s `kubeadm reset` of an earlier
 * replacement lab run (not reproduced since: 1.5 s with the mirror pod there). Without a client the
 * reset is local only and never waits on the cluster: 1.05 s in the lab.
 */
export const RESET_NO_CLUSTER_FLAG = '--kubeconfig=/dev/null';

/** reset's flags: no cluster read, the task's, with {@link RESET_SKIPPED_PHASES} always among the skipped phases. */
function resetFlags(args: Pick<Args, 'skipPhases' | 'ignorePreflightErrors'>): string[] {
  const skipPhases = [...new Set([...RESET_SKIPPED_PHASES, ...(args.skipPhases ?? [])])];
  return [RESET_NO_CLUSTER_FLAG, ...flags({ ...args, skipPhases })];
}

function flags(args: Pick<Args, 'skipPhases' | 'ignorePreflightErrors'>): string[] {
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
