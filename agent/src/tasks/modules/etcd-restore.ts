/**
 * `etcd_restore`: one etcd member's part of a disaster recovery (controller/src/recovery).
 *
 * - `assert-no-quorum`: the guard alone (etcd-restore-guard.ts); changes nothing.
 * - `set-aside`: the guard, then the data dir is renamed to `<dataDir>.pre-restore-<restoreId>`
 *   (a member that rejoins as an empty learner after `--from-member`).
 * - `restore`: the guard; the snapshot downloaded from the controller into
 *   `<dataDir>.restore-<restoreId>.db`, hashed while it streams and refused (deleted, nothing
 *   touched) unless its sha256 and size match the task; `etcdutl snapshot restore` into
 *   `<dataDir>.restore-<restoreId>` with `--bump-revision N --mark-compacted` (so no watcher ever
 *   sees the revision go back and none resumes inside the gap); then the swap: the old data dir
 *   renamed to `<dataDir>.pre-restore-<restoreId>` — **kept, never deleted** — and the new one
 *   renamed into place (both renames within one directory: atomic, same file system).
 *
 * Idempotent across crashes at any point: a marker `<dataDir>.ballast-restore.json` written (atomically)
 * after the swap names the restore; a task that finds its own restore id there changes nothing and
 * does not probe (the restored cluster may already be running and have a leader). A swap cut in
 * half (old moved away, new not yet in place) is finished; a staging dir left by a killed etcdutl
 * is restored again. The kept directory names carry the restore id, so a second recovery keeps its own.
 *
 * etcdutl's argv is built here from validated fields; the binary is the one the etcd role
 * installs (/usr/local/bin/etcdutl, else /usr/bin/etcdutl), never a path from the controller.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { writeStreamToFile } from '../../../../shared/src/artifacts-archive.js';
import { writeFileAtomic } from '../../../../shared/src/atomic-file.js';
import { BallastError, isBallastError, messageOf } from '../../../../shared/src/errors.js';
import { hashFile } from '../../../../shared/src/hashing.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { file, type PathRule, tree } from '../../../../shared/src/tasks/safety.js';
import { connectEtcd, type EtcdConnector } from '../../etcd/client.js';
import { tail } from '../../host/exec.js';
import { lstatOrNull } from '../attrs.js';
import { hostPath, type Module, type ModuleContext, type ModuleOutcome } from '../module.js';
import { safePath } from '../safe-path.js';
import { assertNotServing, type GuardReport } from './etcd-restore-guard.js';

type Args = ModuleArgs<'etcd_restore'>;

/** Where etcd data may live (the etcd role's rule). */
export const ETCD_DATA_RULES: readonly PathRule[] = [tree('/var/lib/etcd')];
export const DEFAULT_ETCD_DATA_DIR = '/var/lib/etcd';
/** etcd's docs suggest bumping by more than the writes since the snapshot; a billion covers any realistic gap. */
export const DEFAULT_BUMP_REVISION = 1_000_000_000;
/** Where the etcd role installs etcdutl, in the order they are tried. */
export const ETCDUTL_PATHS = ['/usr/local/bin/etcdutl', '/usr/bin/etcdutl'] as const;
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/** What the marker beside the data dir records. */
interface Marker {
  restoreId: string;
  name: string;
  snapshotSha256: string;
  bumpRevision: number;
  at: string;
}

/** The directories and files of one restore, as host paths (`host`) and as the task names them. */
interface Layout {
  dataDir: string;
  kept: string;
  staging: string;
  download: string;
  marker: string;
  host: { dataDir: string; kept: string; staging: string; download: string; marker: string };
}

/** Options of {@link createEtcdRestoreModule}. */
export interface EtcdRestoreModuleOptions {
  connect?: EtcdConnector;
  /** Clock for the marker. */
  now?: () => Date;
}

/** See the file comment. */
export function createEtcdRestoreModule(opts: EtcdRestoreModuleOptions = {}): Module<'etcd_restore'> {
  const connect = opts.connect ?? connectEtcd;
  const now = opts.now ?? (() => new Date());
  return {
    name: 'etcd_restore',
    async run(args, ctx) {
      const layout = await layoutOf(args, ctx);
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(args.timeoutMs ?? DEFAULT_TIMEOUT_MS)]);
      const c: ModuleContext = { ...ctx, signal };
      if (args.action === 'restore') {
        const marker = await readMarker(layout);
        if (marker?.restoreId === args.restoreId && (await lstatOrNull(layout.host.dataDir)) !== null) {
          return { changed: false, message: `${layout.dataDir} already holds restore ${args.restoreId} (member ${marker.name})` };
        }
      }
      if (args.action === 'set-aside' && (await lstatOrNull(layout.host.kept)) !== null && (await lstatOrNull(layout.host.dataDir)) === null) {
        return { changed: false, message: `${layout.dataDir} already set aside as ${layout.kept}` };
      }
      let guard: GuardReport;
      try {
        guard = await assertNotServing(args, c, connect);
      } catch (err) {
        // In a check run the steps before this one (stopping etcd) did not happen: report, do not fail.
        if (ctx.check && isBallastError(err, 'BALLAST_ERR_ETCD_STILL_SERVING', 'BALLAST_ERR_CONFIG')) {
          return { changed: args.action !== 'assert-no-quorum', skipped: true, message: `would ${args.action} once etcd is stopped; refused as things stand now: ${messageOf(err)}` };
        }
        throw err;
      }
      const probed = guardText(guard);
      if (args.action === 'assert-no-quorum') return { changed: false, message: `the old cluster has no quorum: ${probed}` };
      if (args.action === 'set-aside') return setAside(layout, c, probed);
      return restore(args, layout, c, probed, now);
    },
  };
}

/** `etcd_restore` with the real HTTPS client. */
export const etcdRestoreModule: Module<'etcd_restore'> = createEtcdRestoreModule();

function guardText(g: GuardReport): string {
  const survivors = g.leaderless.length === 0 ? '' : `; answering without a leader: ${g.leaderless.join(', ')}`;
  return `${g.probed} endpoints probed, none serves with a leader${survivors}`;
}

async function layoutOf(args: Args, ctx: ModuleContext): Promise<Layout> {
  const dataDir = args.dataDir ?? DEFAULT_ETCD_DATA_DIR;
  const host = await safePath(ctx, dataDir, ETCD_DATA_RULES, 'restore etcd data in');
  if (dataDir === '/' || basename(dataDir) === '') throw new BallastError('BALLAST_ERR_UNSAFE_PATH', `failed to restore etcd data in ${dataDir}: not a data directory`, { path: '/args/dataDir' });
  const sibling = async (suffix: string, asTree: boolean) => {
    const path = `${dataDir}${suffix}`;
    return { path, host: await safePath(ctx, path, [asTree ? tree(path) : file(path)], 'restore etcd data in') };
  };
  const kept = await sibling(`.pre-restore-${args.restoreId}`, true);
  const staging = await sibling(`.restore-${args.restoreId}`, true);
  const download = await sibling(`.restore-${args.restoreId}.db`, false);
  const marker = await sibling('.ballast-restore.json', false);
  return {
    dataDir,
    kept: kept.path,
    staging: staging.path,
    download: download.path,
    marker: marker.path,
    host: { dataDir: host, kept: kept.host, staging: staging.host, download: download.host, marker: marker.host },
  };
}

async function readMarker(layout: Layout): Promise<Marker | null> {
  try {
    const parsed = JSON.parse(await readFile(layout.host.marker, 'utf8')) as Partial<Marker>;
    return typeof parsed.restoreId === 'string' && typeof parsed.name === 'string' ? (parsed as Marker) : null;
  } catch {
    // Absent or unreadable: no restore recorded (a torn marker cannot exist: it is written atomically).
    return null;
  }
}

async function setAside(layout: Layout, ctx: ModuleContext, probed: string): Promise<ModuleOutcome> {
  if ((await lstatOrNull(layout.host.dataDir)) === null) return { changed: false, message: `${layout.dataDir} does not exist: nothing to set aside (${probed})` };
  const diff = ctx.diff ? `~ ${layout.dataDir} → ${layout.kept}\n` : undefined;
  if (ctx.check) return { changed: true, message: `would move ${layout.dataDir} aside to ${layout.kept} (${probed})`, diff };
  // Only reached with the data dir present: a kept dir of the same restore is from another attempt; keep both.
  await rename(layout.host.dataDir, (await lstatOrNull(layout.host.kept)) === null ? layout.host.kept : await freeName(`${layout.host.kept}.`));
  await syncDir(dirname(layout.host.dataDir));
  return { changed: true, message: `moved ${layout.dataDir} aside to ${layout.kept} (${probed})`, diff };
}

async function restore(args: Args, layout: Layout, ctx: ModuleContext, probed: string, now: () => Date): Promise<ModuleOutcome> {
  const { name, initialCluster, peerUrls, snapshot } = args;
  if (name === undefined || initialCluster === undefined || peerUrls === undefined || snapshot === undefined) {
    const missing = (['name', 'initialCluster', 'peerUrls', 'snapshot'] as const).filter((k) => args[k] === undefined);
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to validate arguments of module etcd_restore: restore needs ${missing.join(', ')}`, { path: `/args/${missing[0]}` });
  }
  if (!initialCluster.split(',').some((m) => m === `${name}=${peerUrls[0]}`)) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to validate arguments of module etcd_restore: initialCluster must include ${name}=${peerUrls[0]}`, { path: '/args/initialCluster' });
  }
  const bump = args.bumpRevision ?? DEFAULT_BUMP_REVISION;
  const hasData = (await lstatOrNull(layout.host.dataDir)) !== null;
  const diff = ctx.diff
    ? `${hasData ? `~ ${layout.dataDir} → ${layout.kept} (kept)\n` : ''}+ ${layout.dataDir} from snapshot ${snapshot.id} (sha256 ${snapshot.sha256.slice(0, 12)}…), member ${name}, revision +${bump}\n`
    : undefined;
  if (ctx.check) {
    return { changed: true, message: `would restore snapshot ${snapshot.id} into ${layout.dataDir} as member ${name} of ${initialCluster.split(',').length} (${probed})`, diff };
  }
  const etcdutl = await findEtcdutl(ctx);
  await ensureDownload(args as Args & { snapshot: NonNullable<Args['snapshot']> }, layout, ctx);
  // A staging dir from an earlier, killed attempt may be half written: etcdutl refuses an existing dir.
  await rm(layout.host.staging, { recursive: true, force: true });
  const argv = [
    etcdutl,
    'snapshot',
    'restore',
    layout.host.download,
    `--data-dir=${layout.host.staging}`,
    `--name=${name}`,
    `--initial-cluster=${initialCluster}`,
    `--initial-advertise-peer-urls=${peerUrls.join(',')}`,
    `--initial-cluster-token=${args.initialClusterToken ?? 'ballast-etcd'}`,
    `--bump-revision=${bump}`,
    '--mark-compacted',
  ];
  ctx.log.info({ argv: argv.slice(1) }, 'restoring etcd snapshot');
  const result = await ctx.exec(argv, { signal: ctx.signal });
  if (result.code !== 0) {
    await rm(layout.host.staging, { recursive: true, force: true });
    throw new BallastError('BALLAST_ERR_RESTORE_FAILED', `failed to restore snapshot ${snapshot.id} as ${name}: etcdutl exited ${result.code}: ${tail(result.stderr || result.stdout, 10, 1500)}`);
  }
  await swap(layout);
  const marker: Marker = { restoreId: args.restoreId, name, snapshotSha256: snapshot.sha256, bumpRevision: bump, at: now().toISOString() };
  await writeFileAtomic(layout.host.marker, `${JSON.stringify(marker)}\n`, 0o600);
  await rm(layout.host.download, { force: true });
  const kept = hasData ? `; the old data is kept in ${layout.kept}` : '';
  return { changed: true, message: `restored snapshot ${snapshot.id} into ${layout.dataDir} as member ${name} (revision +${bump})${kept} (${probed})`, diff };
}

/**
 * Old out, new in. An old dir already kept under this restore's name means an earlier attempt
 * moved it and died: the dir now in place is that attempt's own restore, which is kept too (under
 * a `.1` suffix), never deleted.
 */
async function swap(layout: Layout): Promise<void> {
  const h = layout.host;
  if ((await lstatOrNull(h.dataDir)) !== null) {
    const target = (await lstatOrNull(h.kept)) === null ? h.kept : await freeName(`${h.kept}.`);
    await rename(h.dataDir, target);
  }
  await rename(h.staging, h.dataDir);
  await syncDir(dirname(h.dataDir));
}

async function freeName(prefix: string): Promise<string> {
  for (let i = 1; ; i++) if ((await lstatOrNull(`${prefix}${i}`)) === null) return `${prefix}${i}`;
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function findEtcdutl(ctx: ModuleContext): Promise<string> {
  for (const path of ETCDUTL_PATHS) {
    const full = hostPath(ctx, path);
    if ((await lstatOrNull(full))?.isFile() === true) return full;
  }
  throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to restore etcd: etcdutl is not installed (${ETCDUTL_PATHS.join(' or ')}); the etcd role installs it from etcd 3.5 or later`);
}

/** The snapshot in place and verified: an earlier complete download is re-hashed, not fetched again. */
async function ensureDownload(args: Args & { snapshot: NonNullable<Args['snapshot']> }, layout: Layout, ctx: ModuleContext): Promise<void> {
  const { snapshot } = args;
  const what = `snapshot ${snapshot.id} of cluster ${snapshot.cluster}`;
  if ((await lstatOrNull(layout.host.download)) !== null) {
    if ((await hashFile(layout.host.download, ctx.signal)) === snapshot.sha256) return;
    await rm(layout.host.download, { force: true });
  }
  if (ctx.snapshots === undefined) throw new BallastError('BALLAST_ERR_UNSUPPORTED', `failed to fetch ${what}: this agent has no controller to download from`);
  const partial = `${layout.host.download}.part`;
  await rm(partial, { force: true });
  try {
    const { stream } = await ctx.snapshots.openSnapshot({ cluster: snapshot.cluster, id: snapshot.id });
    const got = await writeStreamToFile(stream, partial, { maxBytes: snapshot.size, signal: ctx.signal, mode: 0o600, what });
    if (got.sha256 !== snapshot.sha256 || got.size !== snapshot.size) {
      throw new BallastError(
        'BALLAST_ERR_CHECKSUM_MISMATCH',
        `failed to verify ${what}: got sha256 ${got.sha256} (${got.size} bytes), expected ${snapshot.sha256} (${snapshot.size} bytes); nothing was restored`,
      );
    }
    await rename(partial, layout.host.download);
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof BallastError) throw err;
    throw new BallastError('BALLAST_ERR_CONNECT', `failed to fetch ${what}: ${messageOf(err)}`, { cause: err });
  }
}
