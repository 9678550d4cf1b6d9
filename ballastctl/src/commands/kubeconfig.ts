/**
 * `ballastctl cluster kubeconfig NAME`: a fresh cluster-admin kubeconfig from the controller (admin
 * accounts only), printed to stdout or written to `--out FILE` atomically with mode 0600. The
 * certificate is issued per call by the cluster's Kubernetes CA for `ballast:<your account>` in
 * group `kubeadm:cluster-admins`, valid `--ttl` (default 24h, at most 7d), and audited.
 *
 * Decision: `--out` replaces an existing file only if Ballast wrote it (its first line carries
 * {@link KUBECONFIG_MARKER}), or with `--force`: `--out ~/.kube/config` must not silently drop
 * every other cluster's context, while refreshing an expired admin.conf needs no extra flag.
 */
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { writeFileAtomic } from '../../../shared/src/atomic-file.js';
import { messageOf } from '../../../shared/src/errors.js';
import {
  KUBECONFIG_DEFAULT_TTL_SECONDS,
  KUBECONFIG_MARKER,
  KUBECONFIG_MAX_TTL_SECONDS,
  KUBECONFIG_MIN_TTL_SECONDS,
  checkApiServerUrl,
  type KubeconfigResponse,
  KubeconfigResponseSchema,
} from '../../../shared/src/kubeconfig-api.js';
import type { CliContext } from '../context.js';
import { CtlError, EXIT_FAILURE, usageError } from '../errors.js';
import { formatDocument, outputOption } from '../output.js';
import { parseDuration } from '../parse.js';
import { parseClusterName } from './certs.js';
import { withExamples } from './common.js';

interface KubeconfigOptions {
  out?: string;
  ttl: number;
  server?: string;
  force?: boolean;
  output: 'yaml' | 'json';
}

/** Parses `--ttl` into seconds within the API's bounds (5m..7d), so a typo is a usage error. */
export function parseKubeconfigTtl(text: string): number {
  const seconds = parseDuration(text);
  if (seconds < KUBECONFIG_MIN_TTL_SECONDS) throw new InvalidArgumentError(`the ttl must be at least ${KUBECONFIG_MIN_TTL_SECONDS / 60}m`);
  if (seconds > KUBECONFIG_MAX_TTL_SECONDS) throw new InvalidArgumentError(`the ttl must be at most ${KUBECONFIG_MAX_TTL_SECONDS / 86_400}d (a client certificate cannot be revoked)`);
  return seconds;
}

/** Parses `--server` with the controller's rule (https, no credentials, query or fragment). */
export function parseApiServerUrl(text: string): string {
  try {
    return checkApiServerUrl(text);
  } catch (err) {
    throw new InvalidArgumentError(messageOf(err));
  }
}

/** Bytes of an existing `--out` file read to look for the marker (it is on the first line). */
const MARKER_PROBE_BYTES = 4096;

/** Refuses to replace `path` unless it is absent or a kubeconfig Ballast wrote (or `force`). */
async function ensureReplaceable(path: string, force: boolean): Promise<void> {
  let head: string;
  try {
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw usageError(`--out ${path} is not a regular file`);
      const buffer = Buffer.alloc(MARKER_PROBE_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, MARKER_PROBE_BYTES, 0);
      head = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    if (err instanceof CtlError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw usageError(`--out ${path} is a directory; name a file`);
    throw new CtlError(`cannot read ${path}: ${messageOf(err)}`, EXIT_FAILURE, { cause: err });
  }
  if (force || (head.split('\n')[0] ?? '').includes(KUBECONFIG_MARKER)) return;
  throw usageError(`--out ${path} exists and was not written by Ballast (no "${KUBECONFIG_MARKER}" header); pass --force to replace it`);
}

/** The one-line summary printed to stderr after `--out`. */
export function writtenNote(path: string, res: KubeconfigResponse): string {
  return `wrote ${path} (mode 0600): cluster ${res.cluster}, user ${res.user} in ${res.groups.join(',')}, server ${res.server}, expires ${res.notAfter} (serial ${res.serial})`;
}

async function runKubeconfig(ctx: CliContext, command: Command, name: string, opts: KubeconfigOptions): Promise<void> {
  const path = opts.out === undefined ? undefined : resolve(ctx.io.cwd ?? process.cwd(), opts.out);
  // Before the request: a certificate issued and then not written is an audit row for nothing.
  if (path !== undefined) await ensureReplaceable(path, opts.force === true);
  const body = { ttlSeconds: opts.ttl, ...(opts.server === undefined ? {} : { server: opts.server }) };
  const res = await ctx.client(command).post(`/v1/clusters/${encodeURIComponent(name)}/kubeconfig`, body, KubeconfigResponseSchema);
  const text = opts.output === 'json' ? formatDocument('json', res) : res.kubeconfig;
  if (path === undefined) {
    ctx.out(text);
    return;
  }
  try {
    await writeFileAtomic(path, text, 0o600);
  } catch (err) {
    throw new CtlError(`failed to write ${path}: ${messageOf(err)} (certificate ${res.serial} was issued and is not saved anywhere)`, EXIT_FAILURE, { cause: err });
  }
  ctx.note(writtenNote(path, res));
}

/** Adds `kubeconfig` to the `cluster` group. */
export function registerClusterKubeconfig(cluster: Command, ctx: CliContext): void {
  const cmd = cluster
    .command('kubeconfig')
    .description('issue a cluster-admin kubeconfig (admin accounts only; a new certificate each call, audited)')
    .argument('<name>', 'cluster name', parseClusterName)
    .option('--out <file>', 'write it to FILE (atomically, mode 0600) instead of stdout')
    .addOption(new Option('--ttl <duration>', 'certificate lifetime, 5m to 7d').argParser(parseKubeconfigTtl).default(KUBECONFIG_DEFAULT_TTL_SECONDS, '24h'))
    .option('--server <url>', 'API server URL in the kubeconfig (default https://VIP:PORT from the cluster spec); the controller URL goes before the command word', parseApiServerUrl)
    .option('--force', 'with --out: replace FILE even if Ballast did not write it')
    // yaml: the kubeconfig itself; json: the API answer (serial, expiry, server and the kubeconfig).
    .addOption(outputOption(['yaml', 'json']))
    .action((name: string, opts: KubeconfigOptions, command: Command) => runKubeconfig(ctx, command, name, opts));
  cmd.addHelpText(
    'after',
    '\nThe certificate is for user ballast:<your account> in group kubeadm:cluster-admins, which kubeadm (1.29+)\n' +
      'binds to cluster-admin. It cannot be revoked one by one: keep the ttl short, or delete the\n' +
      'ClusterRoleBinding kubeadm:cluster-admins to cut every such certificate off at once.\n',
  );
  withExamples(cmd, [
    'ballastctl cluster kubeconfig prod --out admin.conf && kubectl --kubeconfig admin.conf get nodes',
    'ballastctl cluster kubeconfig prod --ttl 1h > /tmp/prod.conf',
    'ballastctl cluster kubeconfig prod --server https://k8s.example.com:6443 --out prod.conf',
  ]);
}
