/**
 * `ballastctl cluster create | list | status`. `create` reads a cluster.yaml (or a kubespray
 * inventory plus flags), checks it offline, sends it with the CNI manifest inline, and follows the
 * bootstrap operation live (the same view as `ballastctl op ID --follow`). The controller checks
 * the spec against the fleet and mirror before it starts anything; every problem is printed with
 * its path and the exit code is 2, as for `cluster validate`.
 *
 * Decision: without `--check`, `create` needs `--yes`. ballastctl has no interactive prompt (it
 * runs in scripts and CI as often as by hand), and a bootstrap changes every host it names.
 */
import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Command } from 'commander';
import { type ClusterList, ClusterListSchema, type ClusterStatus, ClusterStatusSchema } from '../../../shared/src/clusters-api.js';
import { memberIdHex } from '../../../shared/src/etcd/client.js';
import { type OperationDocument, OperationDocumentSchema } from '../../../shared/src/ops-api.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { inlineCniManifest } from '../../../controller/src/cluster/spec.js';
import type { CliContext } from '../context.js';
import { AbortedError, CtlError, EXIT_USAGE, usageError } from '../errors.js';
import { type Cell, formatTable } from '../format.js';
import { formatDocument, outputOption } from '../output.js';
import { fromClusterFile, fromInventory, reportText, sourceOptions, type ValidateOptions } from './cluster.js';
import { matchInventoryToEnrolled } from './inventory-hosts.js';
import { withExamples } from './common.js';
import { viewOperation } from './ops.js';

interface CreateOptions extends Omit<ValidateOptions, 'output'> {
  check?: boolean;
  diff?: boolean;
  yes?: boolean;
  follow: boolean;
  output: 'text' | 'json' | 'yaml';
}

/** Adds create, list and status to the `cluster` group. */
export function registerClusterOps(cluster: Command, ctx: CliContext): void {
  const create = sourceOptions(cluster.command('create'))
    .description('bootstrap a highly-available cluster on enrolled hosts: etcd → VIP → control plane → workers, resumable')
    .option('--check', 'print the full per-host plan and change nothing')
    .option('--diff', 'record file diffs in every run (ballastctl run ID shows them); --check always does')
    .option('-y, --yes', 'create without asking (required unless --check)')
    .option('--no-follow', 'print the operation id and return instead of following it')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action((opts: CreateOptions, command: Command) => runCreate(ctx, command, opts));
  withExamples(create, [
    'ballastctl cluster create -f cluster.yaml --check',
    'ballastctl cluster create -f cluster.yaml --yes',
    'ballastctl cluster create --inventory inventory/prod/hosts.yaml --name prod --vip 10.0.0.10 --vip-interface eth0 --yes',
  ]);

  cluster
    .command('list')
    .description('clusters this controller created (newest create operation of each)')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { output: 'table' | 'json' | 'yaml' }, command: Command) => {
      const res = await ctx.client(command).get('/v1/clusters', ClusterListSchema);
      if (opts.output !== 'table') return ctx.out(formatDocument(opts.output, res));
      if (res.items.length === 0) return ctx.note('No clusters yet (ballastctl cluster create).');
      ctx.out(listText(res, ctx.color));
    });

  const reset = cluster
    .command('reset')
    .description('remove what Ballast installed from the cluster\'s hosts (all, or --hosts), with a per-host recap')
    .argument('<name>', 'cluster name')
    .option('--hosts <names>', 'only these hosts (comma-separated); their etcd members are removed from etcd first, quorum-guarded', (v: string) => v.split(',').filter(Boolean))
    .option('--check', 'show what would be removed and change nothing')
    .option('--diff', 'record file diffs in the runs')
    .option('-y, --yes', 'reset without asking (required unless --check)')
    .option('--no-follow', 'print the operation id and return instead of following it')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (name: string, opts: { hosts?: string[]; check?: boolean; diff?: boolean; yes?: boolean; follow: boolean; output: 'text' | 'json' | 'yaml' }, command: Command) => {
      if (opts.check !== true && opts.yes !== true) throw usageError(`cluster reset removes Kubernetes, etcd and containerd from ${opts.hosts?.join(', ') ?? `every host of ${name}`}: rerun with --yes, or with --check`);
      const client = ctx.client(command);
      const body = { check: opts.check === true, diff: opts.diff === true, ...(opts.hosts === undefined ? {} : { hosts: opts.hosts }) };
      const doc = await client.post(`/v1/clusters/${encodeURIComponent(name)}/reset`, body, OperationDocumentSchema);
      // The per-host recap --help promises, after the operation's own view (also when it failed).
      const recap = async () => {
        if (!opts.follow || opts.output !== 'text') return;
        ctx.out(resetRecapText(await client.get(`/v1/ops/${encodeURIComponent(doc.id)}`, OperationDocumentSchema)));
      };
      try {
        await viewOperation(ctx, client, doc, { follow: opts.follow, output: opts.output });
      } catch (err) {
        if (!(err instanceof AbortedError)) await recap();
        throw err;
      }
      await recap();
    });
  withExamples(reset, ['ballastctl cluster reset lab --check', 'ballastctl cluster reset lab --hosts w2 --yes', 'ballastctl cluster reset lab --yes']);

  const status = cluster
    .command('status')
    .description('etcd members (leader, health, learner), the VIP holder and term, nodes, and the operation in progress')
    .argument('<name>', 'cluster name')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (name: string, opts: { output: 'text' | 'json' | 'yaml' }, command: Command) => {
      const s = await ctx.client(command).get(`/v1/clusters/${encodeURIComponent(name)}/status`, ClusterStatusSchema);
      if (opts.output !== 'text') return ctx.out(formatDocument(opts.output, s));
      ctx.out(statusText(s, ctx.color));
    });
  withExamples(status, ['ballastctl cluster status prod', "ballastctl cluster status prod -o json | jq '.etcd.members[] | select(.healthy | not)'"]);
}

async function runCreate(ctx: CliContext, command: Command, opts: CreateOptions): Promise<void> {
  const cwd = ctx.io.cwd ?? process.cwd();
  const validateOpts: ValidateOptions = { ...opts, output: 'text' };
  const fromInv = opts.file === undefined ? fromInventory(cwd, validateOpts) : null;
  const report = fromInv ?? fromClusterFile(resolve(cwd, opts.file ?? '.'), validateOpts);
  const clusterFile = opts.file !== undefined ? resolve(cwd, opts.file) : resolve(cwd, opts.inventory ?? '.');
  const inlined = report.cluster === undefined ? null : inlineCniManifest(report.cluster, { clusterFile });
  if (!report.valid || inlined === null || inlined.problems.length > 0) {
    ctx.out(reportText({ ...report, valid: false, problems: [...report.problems, ...(inlined?.problems ?? [])] }));
    throw new CtlError(`${report.source}: not valid; nothing was started`, EXIT_USAGE, { code: 'BALLAST_ERR_VALIDATION' });
  }
  if (opts.check !== true && opts.yes !== true) {
    throw usageError(`cluster create changes ${inlined.spec.hosts.length} hosts: rerun with --yes, or with --check to see the plan first`);
  }
  const client = ctx.client(command);
  // Inventory names are Ansible's: send the names the hosts enrolled under.
  const spec = fromInv === null ? inlined.spec : await matchInventoryToEnrolled(ctx, client, inlined.spec, fromInv.inventoryHosts);
  let doc: Awaited<ReturnType<typeof client.post<typeof OperationDocumentSchema>>>;
  try {
    doc = await client.post('/v1/clusters', { spec, check: opts.check === true, diff: opts.diff === true }, OperationDocumentSchema);
  } catch (err) {
    // The controller lists every problem in one message; one per line reads better.
    if (err instanceof CtlError && err.code === 'BALLAST_ERR_VALIDATION') {
      const [head, ...rest] = err.message.split(/; (?=\/)/);
      ctx.out(`${[head, ...rest].join('\n')}\n`);
      throw new CtlError(`cluster ${inlined.spec.name}: not valid; nothing was started`, EXIT_USAGE, { code: err.code });
    }
    throw err;
  }
  await viewOperation(ctx, client, doc, { follow: opts.follow, output: opts.output });
}

const ResetRecapSchema = Type.Object({
  hosts: Type.Array(Type.Object({ host: Type.String(), runId: Type.String(), ok: Type.Integer(), changed: Type.Integer(), failed: Type.Integer(), skipped: Type.Integer() })),
});

/** The per-host recap of a `cluster reset` operation, from its reset step's data ('' before it ran). */
export function resetRecapText(doc: OperationDocument, color = false): string {
  const step = doc.steps.find((s) => s.kind === 'host-reset');
  const check = compiledCheck(ResetRecapSchema);
  if (step === undefined || !check.Check(step.data)) return '';
  const rows: Cell[][] = step.data.hosts.map((h) => [
    h.host,
    String(h.ok),
    String(h.changed),
    h.failed > 0 ? { text: String(h.failed), tone: 'red' } : '0',
    String(h.skipped),
    `ballastctl run ${h.runId}`,
  ]);
  return `\nPer host:\n${formatTable(['HOST', 'OK', 'CHANGED', 'FAILED', 'SKIPPED', 'DETAILS'], rows, color)}`;
}

/** The table of `cluster list`: where each cluster stands, then how its last operation went. */
export function listText(list: ClusterList, color = false): string {
  const rows = list.items.map((c) => [c.name, c.lifecycle, `${c.lastOperation.kind.replace(/^cluster\./, '')} ${c.lastOperation.state}`, String(c.hosts), c.vip, c.lastOperation.id]);
  return formatTable(['NAME', 'LIFECYCLE', 'LAST-OPERATION', 'HOSTS', 'VIP', 'OPERATION'], rows, color);
}

/** The text view of `cluster status`. */
export function statusText(s: ClusterStatus, color = false): string {
  const lines: string[] = [];
  const last = s.lastOperation;
  lines.push(`Cluster ${s.name}: ${s.lifecycle} (last operation: ${last.kind} ${last.id} ${last.state})`);
  if (last.id !== s.operation.id || s.operation.state !== 'succeeded') {
    lines.push(`Create operation ${s.operation.id} ${s.operation.state} (${s.operation.done}/${s.operation.total} steps${s.operation.current === null ? '' : `, at ${s.operation.current}`})`);
  }
  lines.push('');
  if (s.etcd.error !== null) lines.push(`etcd: unavailable: ${s.etcd.error}`);
  else {
    const rows: Cell[][] = s.etcd.members.map((m) => [
      m.name || '(not started)',
      memberIdHex(m.id),
      m.leader ? 'leader' : m.learner ? 'learner' : 'follower',
      m.healthy ? { text: 'healthy', tone: 'green' } : { text: `unhealthy: ${m.problem ?? '?'}`, tone: 'red' },
      m.peerUrls.join(','),
    ]);
    lines.push(`etcd: ${s.etcd.members.length} members`);
    lines.push(formatTable(['MEMBER', 'ID', 'ROLE', 'HEALTH', 'PEER-URLS'], rows, color).trimEnd());
  }
  lines.push('');
  if (s.vip.error !== null) lines.push(`VIP ${s.vipAddress}: unknown: ${s.vip.error}`);
  else lines.push(`VIP ${s.vipAddress}: ${s.vip.holder === null ? 'not held' : `held by ${s.vip.holder}, term ${s.vip.term ?? '?'}`}`);
  lines.push('');
  if (s.nodes.error !== null) lines.push(`nodes: unavailable: ${s.nodes.error}`);
  else {
    lines.push(`nodes: ${s.nodes.items.filter((n) => n.ready).length}/${s.nodes.items.length} Ready`);
    if (s.nodes.items.length > 0) {
      const rows: Cell[][] = s.nodes.items.map((n) => [n.name, n.ready ? { text: 'Ready', tone: 'green' } : { text: 'NotReady', tone: 'red' }, n.roles.join(',') || '<none>']);
      lines.push(formatTable(['NODE', 'STATUS', 'ROLES'], rows, color).trimEnd());
    }
  }
  return `${lines.join('\n')}\n`;
}
