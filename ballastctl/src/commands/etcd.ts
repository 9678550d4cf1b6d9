/**
 * `ballastctl etcd …`: snapshots (now, list, show, verify, delete), restore drills, the snapshot
 * schedule, and etcd care (status, defrag). `-o json|yaml` prints the API documents of
 * shared/src/etcd-api.ts unchanged. A drill that fails exits 1 after printing its steps.
 */
import type { Command } from 'commander';
import {
  DefragResultSchema,
  type DrillInfo,
  DrillInfoSchema,
  DrillListSchema,
  type EtcdClusterStatus,
  EtcdStatusSchema,
  type SnapshotInfo,
  SnapshotInfoSchema,
  SnapshotListSchema,
  SnapshotPolicyInfoSchema,
} from '../../../shared/src/etcd-api.js';
import type { CliContext } from '../context.js';
import { CtlError, EXIT_FAILURE, usageError } from '../errors.js';
import { type Cell, formatBytes, formatFields, formatTable, formatTime, NONE } from '../format.js';
import { formatDocument, outputOption } from '../output.js';
import { intInRange, parseName } from '../parse.js';
import { withExamples } from './common.js';
import { listRemote, registerSnapshotImport } from './etcd-import.js';

type Output = 'text' | 'json' | 'yaml';
const LONG = { timeoutMs: 40 * 60_000 };
const SNAPSHOT_ID = /^[0-9TZ]{16}-[0-9a-f]{6}$/;

function parseSnapshotId(text: string): string {
  if (!SNAPSHOT_ID.test(text)) throw usageError(`"${text}" is not a snapshot id (e.g. 20261207T060000Z-3f9a1c; see ballastctl etcd snapshot list)`);
  return text;
}

/** `on` / `off` (also true/false, yes/no) for a switch option. */
function parseOnOff(text: string): boolean {
  const t = text.toLowerCase();
  if (['on', 'true', 'yes'].includes(t)) return true;
  if (['off', 'false', 'no'].includes(t)) return false;
  throw usageError(`"${text}" is not on or off`);
}

/** Column headers of `etcd snapshot list`. */
export const SNAPSHOT_COLUMNS = ['ID', 'CLUSTER', 'TAKEN', 'SIZE', 'REVISION', 'KEYS', 'MEMBER', 'S3', 'VERIFIED'] as const;

/** The snapshot table. */
export function snapshotTable(items: readonly SnapshotInfo[], color = false): string {
  const rows = items.map((s): Cell[] => [
    s.id,
    s.cluster,
    formatTime(s.createdAt),
    formatBytes(s.size),
    s.revision,
    String(s.totalKeys),
    s.member,
    s.s3Key === null ? NONE : 'yes',
    s.verifyError === null ? (s.verifiedAt === null ? 'no' : 'yes') : { text: 'FAILED', tone: 'red' },
  ]);
  return formatTable([...SNAPSHOT_COLUMNS], rows, color);
}

/** `etcd snapshot show` as fields. */
export function snapshotFields(s: SnapshotInfo): string {
  return formatFields([
    ['ID', s.id],
    ['Cluster', s.cluster],
    ['Taken', `${formatTime(s.createdAt)} (${s.trigger}) from ${s.host} (member ${s.member}) in ${(s.durationMs / 1000).toFixed(1)} s`],
    ['Database', `${formatBytes(s.size)}, revision ${s.revision}, ${s.totalKeys} keys, etcd hash ${s.etcdHash}`],
    ['sha256', s.sha256],
    ['Bundle', `${formatBytes(s.sealedSize)}${s.encrypted ? ', AES-256-GCM' : ''}, sha256 ${s.sealedSha256}`],
    ['S3 copy', s.s3Key ?? NONE],
    ['Verified', s.verifyError !== null ? `FAILED: ${s.verifyError} (never offered for restore)` : (s.verifiedAt === null ? 'never' : formatTime(s.verifiedAt))],
  ]);
}

/** A drill's outcome and steps. */
export function drillText(d: DrillInfo): string {
  const head = `restore drill of snapshot ${d.snapshotId} (cluster ${d.cluster}): ${d.outcome.toUpperCase()} in ${(d.durationMs / 1000).toFixed(1)} s\n`;
  const rows = d.steps.map((s): Cell[] => [s.name, { text: s.outcome, tone: s.outcome === 'failed' ? 'red' : s.outcome === 'skipped' ? 'yellow' : 'green' }, `${(s.durationMs / 1000).toFixed(1)} s`, s.detail]);
  return `${head}\n${formatTable(['STEP', 'OUTCOME', 'TIME', 'DETAIL'], rows)}`;
}

/** `etcd status` as a table. */
export function statusTable(s: EtcdClusterStatus, color = false): string {
  const rows = s.members.map((m): Cell[] => {
    if (m.status === null) return [m.host, NONE, { text: 'unreachable', tone: 'red' }, NONE, NONE, NONE, m.error ?? ''];
    const st = m.status;
    const role = st.isLearner ? 'learner' : st.member === s.leader ? 'leader' : 'follower';
    return [m.host, st.member, role, `${formatBytes(st.dbSize)} / ${formatBytes(st.dbSizeInUse)} in use`, st.revision, st.version, st.alarms.length === 0 ? NONE : { text: st.alarms.join(', '), tone: 'red' }];
  });
  return `cluster ${s.cluster}, leader ${s.leader ?? 'unknown'}\n\n${formatTable(['HOST', 'MEMBER', 'ROLE', 'DB SIZE', 'REVISION', 'VERSION', 'ALARMS'], rows, color)}`;
}

/** Registers `etcd` and its subcommands. */
export function registerEtcd(program: Command, ctx: CliContext): void {
  const etcd = program.command('etcd').description("etcd snapshots, restore drills and care of a cluster's etcd");
  const snap = etcd.command('snapshot').description('take, list, show, verify, delete and import encrypted etcd snapshots');

  const show = (s: SnapshotInfo, output: Output) => ctx.out(output === 'text' ? `${snapshotFields(s)}\n` : formatDocument(output, s));

  const now = snap
    .command('now')
    .description("take a snapshot now through a healthy member's agent; it is sealed with the PKI and spec, copied to S3 if configured, and retention applied")
    .argument('<cluster>', 'cluster name', parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { output: Output }, command: Command) => {
      show(await ctx.client(command).post('/v1/etcd/snapshots', { cluster }, SnapshotInfoSchema, LONG), opts.output);
    });
  withExamples(now, ['ballastctl etcd snapshot now prod', 'ballastctl etcd snapshot now prod -o json | jq -r .id']);

  const list = snap
    .command('list')
    .description('snapshots, newest first; VERIFIED FAILED ones are never offered for restore')
    .option('--cluster <name>', 'only this cluster', parseName)
    .option('--remote', "list the S3 target's copies of --cluster instead (what `snapshot import --from-s3` can bring in)")
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (opts: { cluster?: string; remote?: boolean; output: Output }, command: Command) => {
      if (opts.remote === true) return listRemote(ctx, command, opts.cluster, opts.output);
      const res = await ctx.client(command).get('/v1/etcd/snapshots', SnapshotListSchema, { query: { cluster: opts.cluster } });
      if (opts.output !== 'text') return ctx.out(formatDocument(opts.output, res));
      if (res.items.length === 0) return ctx.note('No snapshots yet (ballastctl etcd snapshot now CLUSTER).');
      ctx.out(snapshotTable(res.items, ctx.color));
    });
  withExamples(list, ['ballastctl etcd snapshot list', 'ballastctl etcd snapshot list --cluster prod -o json', 'ballastctl etcd snapshot list --remote --cluster prod']);
  registerSnapshotImport(snap, ctx);

  for (const [name, description] of [
    ['show', 'one snapshot in detail'],
    ['verify', 'decrypt the bundle and re-hash the database now; a failure marks it never to be offered for restore'],
    ['delete', 'delete the snapshot here and its copy in S3'],
  ] as const) {
    const cmd = snap
      .command(name)
      .description(description)
      .argument('<id>', 'snapshot id', parseSnapshotId)
      .addOption(outputOption(['text', 'json', 'yaml']))
      .action(async (id: string, opts: { output: Output }, command: Command) => {
        const client = ctx.client(command);
        const path = `/v1/etcd/snapshots/${id}`;
        const res =
          name === 'show' ? await client.get(path, SnapshotInfoSchema) : name === 'verify' ? await client.post(`${path}/verify`, {}, SnapshotInfoSchema, LONG) : await client.delete(path, SnapshotInfoSchema);
        if (name === 'delete' && opts.output === 'text') return ctx.out(`deleted snapshot ${res.id} (cluster ${res.cluster})\n`);
        if (name === 'verify' && opts.output === 'text') return ctx.out(`snapshot ${res.id} verified: sha256 ${res.sha256} matches, bundle decrypts\n`);
        show(res, opts.output);
      });
    withExamples(cmd, [`ballastctl etcd snapshot ${name} 20261207T060000Z-3f9a1c`]);
  }

  const drill = etcd
    .command('drill')
    .description('restore the newest (or --snapshot) snapshot into a throwaway etcd on the controller, check it and read it through a temporary kube-apiserver')
    .argument('<cluster>', 'cluster name', parseName)
    .option('--snapshot <id>', 'drill this snapshot instead of the newest', parseSnapshotId)
    .option('--history', 'list past drills instead of running one')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { snapshot?: string; history?: boolean; output: Output }, command: Command) => {
      const client = ctx.client(command);
      if (opts.history === true) {
        const res = await client.get('/v1/etcd/drills', DrillListSchema, { query: { cluster } });
        if (opts.output !== 'text') return ctx.out(formatDocument(opts.output, res));
        const rows = res.items.map((d): Cell[] => [formatTime(d.startedAt), d.snapshotId, { text: d.outcome, tone: d.outcome === 'passed' ? 'green' : 'red' }, `${(d.durationMs / 1000).toFixed(1)} s`, d.error ?? '']);
        return ctx.out(formatTable(['STARTED', 'SNAPSHOT', 'OUTCOME', 'TIME', 'ERROR'], rows, ctx.color));
      }
      const res = await client.post('/v1/etcd/drills', { cluster, ...(opts.snapshot === undefined ? {} : { snapshot: opts.snapshot }) }, DrillInfoSchema, LONG);
      ctx.out(opts.output === 'text' ? drillText(res) : formatDocument(opts.output, res));
      if (res.outcome === 'failed') throw new CtlError(`restore drill failed: ${res.error ?? 'see the steps above'}`, EXIT_FAILURE);
    });
  withExamples(drill, ['ballastctl etcd drill prod', 'ballastctl etcd drill prod --snapshot 20261207T060000Z-3f9a1c', 'ballastctl etcd drill prod --history']);

  const status = etcd
    .command('status')
    .description("every member's status from its agent: leader, DB size and in-use size, revision, alarms")
    .argument('<cluster>', 'cluster name', parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { output: Output }, command: Command) => {
      const res = await ctx.client(command).get('/v1/etcd/status', EtcdStatusSchema, { query: { cluster } });
      ctx.out(opts.output === 'text' ? statusTable(res, ctx.color) : formatDocument(opts.output, res));
    });
  withExamples(status, ['ballastctl etcd status prod']);

  const defrag = etcd
    .command('defrag')
    .description('defragment members one at a time, the leader last; without --all only members whose in-use size is under half of a DB over 100 MB')
    .argument('<cluster>', 'cluster name', parseName)
    .option('--all', 'every member, whatever its fragmentation')
    .option('--host <host>', 'only this member', parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { all?: boolean; host?: string; output: Output }, command: Command) => {
      if (opts.all === true && opts.host !== undefined) throw usageError('--all and --host exclude each other');
      const res = await ctx.client(command).post('/v1/etcd/defrag', { cluster, all: opts.all === true, ...(opts.host === undefined ? {} : { host: opts.host }) }, DefragResultSchema, LONG);
      if (opts.output !== 'text') return ctx.out(formatDocument(opts.output, res));
      if (res.members.length === 0) return ctx.out('no member needed defragmenting (use --all to defragment anyway)\n');
      ctx.out(res.members.map((m) => `${m.host}: ${formatBytes(m.before)} → ${formatBytes(m.after)} in ${(m.durationMs / 1000).toFixed(1)} s\n`).join(''));
    });
  withExamples(defrag, ['ballastctl etcd defrag prod', 'ballastctl etcd defrag prod --all']);

  registerSchedule(etcd, ctx);
}

function registerSchedule(etcd: Command, ctx: CliContext): void {
  const schedule = etcd.command('schedule').description('when snapshots and drills run and how many snapshots are kept (overrides cluster.yaml snapshots:)');
  const print = (res: typeof SnapshotPolicyInfoSchema.static, output: Output) => {
    if (output !== 'text') return ctx.out(formatDocument(output, res));
    const p = res.policy;
    ctx.out(`${formatFields([['Cluster', res.cluster], ['Source', res.source], ['Enabled', p.enabled ? 'yes' : 'no'], ['Snapshots', p.schedule], ['Keep', `${p.keepHourly} newest + ${p.keepDaily} daily`], ['Drills', p.drillSchedule], ['Auto defrag', p.autoDefrag ? `on (${p.defragSchedule})` : 'off']])}\n`);
  };
  const show = schedule
    .command('show')
    .description('the policy in force and where it comes from')
    .argument('<cluster>', 'cluster name', parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { output: Output }, command: Command) => {
      print(await ctx.client(command).get('/v1/etcd/schedule', SnapshotPolicyInfoSchema, { query: { cluster } }), opts.output);
    });
  withExamples(show, ['ballastctl etcd schedule show prod']);
  const set = schedule
    .command('set')
    .description('change fields of the policy (cron expressions in the controller host time zone)')
    .argument('<cluster>', 'cluster name', parseName)
    .option('--schedule <cron>', 'when to snapshot, e.g. "0 * * * *"')
    .option('--keep-hourly <n>', 'newest snapshots kept', intInRange(1, 1000))
    .option('--keep-daily <n>', 'days whose newest snapshot is kept', intInRange(0, 1000))
    .option('--drill-schedule <cron>', 'when to run the restore drill, e.g. "30 3 * * *"')
    .option('--auto-defrag <on|off>', 'defragment members automatically when in use is under 50% of a DB over 100 MB', parseOnOff)
    .option('--defrag-schedule <cron>', 'when the automatic defragmentation checks, e.g. "0 4 * * *"')
    .option('--enable', 'run scheduled snapshots and drills')
    .option('--disable', 'stop scheduled snapshots and drills (on-demand ones still work)')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (cluster: string, opts: { schedule?: string; keepHourly?: number; keepDaily?: number; drillSchedule?: string; autoDefrag?: boolean; defragSchedule?: string; enable?: boolean; disable?: boolean; output: Output }, command: Command) => {
      if (opts.enable === true && opts.disable === true) throw usageError('--enable and --disable exclude each other');
      const body = {
        cluster,
        ...(opts.schedule === undefined ? {} : { schedule: opts.schedule }),
        ...(opts.keepHourly === undefined ? {} : { keepHourly: opts.keepHourly }),
        ...(opts.keepDaily === undefined ? {} : { keepDaily: opts.keepDaily }),
        ...(opts.drillSchedule === undefined ? {} : { drillSchedule: opts.drillSchedule }),
        ...(opts.autoDefrag === undefined ? {} : { autoDefrag: opts.autoDefrag }),
        ...(opts.defragSchedule === undefined ? {} : { defragSchedule: opts.defragSchedule }),
        ...(opts.enable === true ? { enabled: true } : opts.disable === true ? { enabled: false } : {}),
      };
      if (Object.keys(body).length === 1) throw usageError('nothing to change: give at least one of --schedule, --keep-hourly, --keep-daily, --drill-schedule, --auto-defrag, --defrag-schedule, --enable, --disable');
      print(await ctx.client(command).request('PUT', '/v1/etcd/schedule', SnapshotPolicyInfoSchema, { body }), opts.output);
    });
  withExamples(set, ['ballastctl etcd schedule set prod --schedule "*/30 * * * *" --keep-hourly 48', 'ballastctl etcd schedule set prod --disable', 'ballastctl etcd schedule set prod --auto-defrag off']);
}
