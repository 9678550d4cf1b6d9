/**
 * `ballastctl node replace | add | remove | lock | unlock`: cluster membership changes, each an
 * operation followed live (the view of `ballastctl op ID --follow`; resume or abort it there).
 * The controller refuses before anything starts — with the quorum guard's numbers, the lock's
 * holder, or what is wrong with NEW — and the refusal is printed as one line (exit 1).
 *
 * Decision, as for `cluster create`: without `--check`, a change needs `--yes`; ballastctl has no
 * interactive prompt (it runs in scripts as often as by hand).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { MembershipLockResponseSchema } from '../../../shared/src/nodes-api.js';
import { OperationDocumentSchema } from '../../../shared/src/ops-api.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { formatDocument, outputOption } from '../output.js';
import { parseName } from '../parse.js';
import { withExamples } from './common.js';
import { viewOperation } from './ops.js';

type Output = 'text' | 'json' | 'yaml';
interface CommonOptions {
  check?: boolean;
  diff?: boolean;
  yes?: boolean;
  follow: boolean;
  output: Output;
  address?: string;
  confirmPoweredOff?: boolean;
}

const ROLE_SETS: Record<string, string[]> = {
  'control-plane,etcd': ['control-plane', 'etcd'],
  'etcd,control-plane': ['control-plane', 'etcd'],
  worker: ['worker'],
  etcd: ['etcd'],
  'control-plane': ['control-plane'],
};

/** `--roles`: control-plane,etcd | worker (and etcd or control-plane alone, for external etcd topologies). */
export function parseRoles(text: string): string[] {
  const roles = ROLE_SETS[text];
  if (roles === undefined) throw new InvalidArgumentError('expected control-plane,etcd or worker (or etcd, control-plane alone)');
  return roles;
}

function addCommon(cmd: Command, what: string): Command {
  return cmd
    .option('--check', 'print the full per-host plan and change nothing')
    .option('--diff', 'record file diffs in every run (ballastctl run ID shows them)')
    .option('-y, --yes', `${what} without asking (required unless --check)`)
    .option('--no-follow', 'print the operation id and return instead of following it')
    .addOption(outputOption(['text', 'json', 'yaml']));
}

async function start(ctx: CliContext, command: Command, path: string, body: Record<string, unknown>, opts: CommonOptions, sentence: string): Promise<void> {
  if (opts.check !== true && opts.yes !== true) throw usageError(`${sentence}: rerun with --yes, or with --check to see the plan first`);
  const client = ctx.client(command);
  const doc = await client.post(path, { ...body, check: opts.check === true, diff: opts.diff === true }, OperationDocumentSchema);
  await viewOperation(ctx, client, doc, { follow: opts.follow, output: opts.output });
}

/** Registers the `node` group. */
export function registerNode(program: Command, ctx: CliContext): void {
  const group = program.command('node').description('replace, add or remove a cluster host: resumable operations, quorum-guarded');

  const replace = addCommon(
    group
      .command('replace')
      .description("replace OLD (online, offline or the first node) with NEW, an enrolled host outside the cluster; NEW takes OLD's roles")
      .argument('<old>', 'the host to take out', parseName)
      .requiredOption('--with <new>', 'the enrolled, connected host that replaces it', parseName)
      .option('--address <ip>', "NEW's cluster address (default: the address its agent connects from)")
      .option('--confirm-powered-off', 'OLD is unreachable and has no fence agent: you confirm it is powered off'),
    'replace',
  ).action((old: string, opts: CommonOptions & { with: string }, command: Command) =>
    start(ctx, command, '/v1/nodes/replace', { old, new: opts.with, ...(opts.address === undefined ? {} : { address: opts.address }), confirmPoweredOff: opts.confirmPoweredOff === true }, opts, `node replace takes ${old} out of its cluster and joins ${opts.with}`),
  );
  withExamples(replace, ['ballastctl node replace cp-1 --with spare-1 --check', 'ballastctl node replace cp-1 --with spare-1 --yes', 'ballastctl node replace cp-2 --with spare-2 --confirm-powered-off --yes']);

  const add = addCommon(
    group
      .command('add')
      .description('add an enrolled host to a cluster: etcd learner → voter, kubeadm join, VIP candidate')
      .argument('<host>', 'the host to add', parseName)
      .requiredOption('--cluster <name>', 'the cluster')
      .requiredOption('--roles <roles>', 'control-plane,etcd | worker', parseRoles)
      .option('--address <ip>', 'its cluster address (default: the address its agent connects from)'),
    'add',
  ).action((host: string, opts: CommonOptions & { cluster: string; roles: string[] }, command: Command) =>
    start(ctx, command, '/v1/nodes/add', { host, cluster: opts.cluster, roles: opts.roles, ...(opts.address === undefined ? {} : { address: opts.address }) }, opts, `node add joins ${host} to cluster ${opts.cluster}`),
  );
  withExamples(add, ['ballastctl node add w-4 --cluster prod --roles worker --yes', 'ballastctl node add cp-4 --cluster prod --roles control-plane,etcd --check']);

  const remove = addCommon(
    group
      .command('remove')
      .description('take a host out of its cluster: drain (or fence if unreachable), remove its etcd member and Node')
      .argument('<host>', 'the host to remove', parseName)
      .option('--force-offline', 'the host is unreachable: fence it, taint it out-of-service and remove it')
      .option('--confirm-powered-off', 'with --force-offline and no fence agent: you confirm it is powered off'),
    'remove',
  ).action((host: string, opts: CommonOptions & { forceOffline?: boolean }, command: Command) =>
    start(ctx, command, '/v1/nodes/remove', { host, forceOffline: opts.forceOffline === true, confirmPoweredOff: opts.confirmPoweredOff === true }, opts, `node remove takes ${host} out of its cluster`),
  );
  withExamples(remove, ['ballastctl node remove w-3 --check', 'ballastctl node remove w-3 --yes', 'ballastctl node remove cp-2 --force-offline --yes']);

  const lock = group
    .command('lock')
    .description("show which membership change holds a cluster's lock")
    .argument('<cluster>', 'cluster name')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { output: Output }, command: Command) => {
      const res = await ctx.client(command).get(`/v1/clusters/${encodeURIComponent(cluster)}/membership-lock`, MembershipLockResponseSchema);
      if (opts.output !== 'text') return ctx.out(formatDocument(opts.output, res));
      ctx.out(res.lock === null ? `cluster ${cluster}: no membership change in progress\n` : `cluster ${cluster}: locked by ${res.lock.operationId} (${res.lock.kind}: ${res.lock.detail}) since ${res.lock.acquiredAt}\n`);
    });
  withExamples(lock, ['ballastctl node lock prod']);

  const unlock = group
    .command('unlock')
    .description('release the membership lock an aborted or failed change kept (check `cluster status` first: etcd may be half-changed)')
    .argument('<cluster>', 'cluster name')
    .action(async (cluster: string, _opts: unknown, command: Command) => {
      const res = await ctx.client(command).delete(`/v1/clusters/${encodeURIComponent(cluster)}/membership-lock`, MembershipLockResponseSchema);
      ctx.out(res.released === true ? `cluster ${cluster}: membership lock released\n` : `cluster ${cluster}: no membership lock was held\n`);
    });
  withExamples(unlock, ['ballastctl node unlock prod']);
}
