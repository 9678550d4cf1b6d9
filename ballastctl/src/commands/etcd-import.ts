/**
 * `ballastctl etcd snapshot import FILE | --from-s3 ID --cluster NAME [--as NAME]` and
 * `etcd snapshot list --remote --cluster NAME`: bringing a sealed snapshot bundle into a controller
 * (controller/src/snapshots/import.ts), e.g. a new one after every old host was lost. Admin only.
 *
 * No key travels with the file: the controller opens it with its own `--snapshot-key`, so on a new
 * controller the copy of the key kept off the old host is installed there first (README "Onto new
 * hosts"). A file is streamed from disk with progress on stderr; the controller verifies all of it
 * before it records anything.
 */
import type { Command } from 'commander';
import { RemoteSnapshotListSchema, type SnapshotImportResult, SnapshotImportResultSchema } from '../../../shared/src/etcd-api.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { type Cell, formatBytes, formatTable, formatTime } from '../format.js';
import { formatDocument, outputOption } from '../output.js';
import { parseName } from '../parse.js';
import { uploadFile } from '../upload-file.js';
import { withExamples } from './common.js';

type Output = 'text' | 'json' | 'yaml';
/** Verifying a multi-GB bundle (every segment decrypted, the database hashed) takes minutes. */
const LONG_MS = 60 * 60_000;
const SNAPSHOT_ID = /^[0-9TZ]{16}-[0-9a-f]{6}$/;

/** The import's answer as text. */
export function importText(r: SnapshotImportResult): string {
  const s = r.snapshot;
  const head =
    r.status === 'unchanged'
      ? `snapshot ${s.id} (cluster ${s.cluster}) was already imported from the same file; nothing changed\n`
      : `imported snapshot ${s.id} (cluster ${s.cluster}): ${formatBytes(s.size)} database, revision ${s.revision}, ${s.totalKeys} keys, taken ${formatTime(s.createdAt)} on member ${s.member}; verified (every segment, sha256 ${s.sha256.slice(0, 12)}…)\n`;
  const pki = `PKI: ${r.pki.imported.length} item(s) imported, ${r.pki.same.length} already stored${r.pki.kept.length === 0 ? '' : `, ${r.pki.kept.length} leaf item(s) kept as stored (${r.pki.kept.join(', ')})`}\n`;
  return `${head}${pki}next: ballastctl cluster recover ${s.cluster} --from-snapshot ${s.id} --check\n  (on new hosts, after \`cluster create\` there: add --replace-current-data; README "Onto new hosts")\n`;
}

/** Registers `etcd snapshot import` under `snap`. */
export function registerSnapshotImport(snap: Command, ctx: CliContext): void {
  const cmd = snap
    .command('import')
    .description(
      "admin: bring a sealed snapshot bundle (.bsnap) into this controller — a file copied off the old controller, or the S3 target's copy — so `cluster recover --from-snapshot ID` can restore it. " +
        "It is opened with the controller's own --snapshot-key (install the key you kept off the old host there first); every segment and the database's sha256 are verified before anything is recorded, " +
        "and the bundle's CAs and keys go into the store (refused if the store holds other CAs for the cluster). Importing the same file again changes nothing",
    )
    .argument('[file]', 'the sealed bundle file (<id>.bsnap)')
    .option('--from-s3 <id>', "import snapshot ID from the controller's S3 target (--snapshot-s3) instead of a file; needs --cluster")
    .option('--cluster <name>', "with --from-s3: the cluster whose folder in the bucket holds it", parseName)
    .option('--as <name>', "record the snapshot and its PKI under this cluster name instead of the bundle's", parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (file: string | undefined, opts: { fromS3?: string; cluster?: string; as?: string; output: Output }, command: Command) => {
      let res: SnapshotImportResult;
      if (opts.fromS3 !== undefined) {
        if (file !== undefined) throw usageError('give a file or --from-s3 ID, not both');
        if (!SNAPSHOT_ID.test(opts.fromS3)) throw usageError(`"${opts.fromS3}" is not a snapshot id (see ballastctl etcd snapshot list --remote --cluster NAME)`);
        if (opts.cluster === undefined) throw usageError('--from-s3 needs --cluster NAME (the folder in the bucket; see ballastctl etcd snapshot list --remote --cluster NAME)');
        if (opts.output === 'text') ctx.note(`downloading and verifying snapshot ${opts.fromS3} of cluster ${opts.cluster} on the controller`);
        const body = { cluster: opts.cluster, id: opts.fromS3, ...(opts.as === undefined ? {} : { as: opts.as }) };
        res = await ctx.client(command).post('/v1/etcd/snapshots/import-s3', body, SnapshotImportResultSchema, { timeoutMs: LONG_MS });
      } else {
        if (file === undefined) throw usageError('give the sealed bundle file to import, or --from-s3 ID --cluster NAME');
        if (opts.cluster !== undefined) throw usageError('--cluster names the bucket folder for --from-s3; to record a file under another cluster name use --as NAME');
        const query = opts.as === undefined ? '' : `?cluster=${encodeURIComponent(opts.as)}`;
        res = await uploadFile(ctx, command, { file, path: `/v1/etcd/snapshots/import${query}`, schema: SnapshotImportResultSchema, afterUpload: 'the controller is verifying the snapshot', timeoutMs: LONG_MS });
      }
      ctx.out(opts.output === 'text' ? importText(res) : formatDocument(opts.output, res));
    });
  withExamples(cmd, [
    'ballastctl etcd snapshot import ./20261207T050000Z-3f9a1c.bsnap',
    'ballastctl etcd snapshot import ./20261207T050000Z-3f9a1c.bsnap --as prod-restored -o json',
    'ballastctl etcd snapshot list --remote --cluster prod',
    'ballastctl etcd snapshot import --from-s3 20261207T050000Z-3f9a1c --cluster prod',
  ]);
}

/** `etcd snapshot list --remote --cluster NAME`: what the S3 target holds. */
export async function listRemote(ctx: CliContext, command: Command, cluster: string | undefined, output: Output): Promise<void> {
  if (cluster === undefined) throw usageError('--remote needs --cluster NAME (the bucket holds one folder per cluster)');
  const res = await ctx.client(command).get('/v1/etcd/snapshots/remote', RemoteSnapshotListSchema, { query: { cluster } });
  if (output !== 'text') return ctx.out(formatDocument(output, res));
  if (res.items.length === 0) return ctx.note(`No snapshots of cluster ${cluster} in bucket ${res.bucket}.`);
  const rows = res.items.map((r): Cell[] => [r.id, formatTime(r.createdAt), formatBytes(r.size), r.imported ? 'yes' : { text: 'no', tone: 'yellow' }, r.key]);
  ctx.out(formatTable(['ID', 'UPLOADED', 'SIZE', 'HERE', 'KEY'], rows, ctx.color));
}
