/**
 * `etcd_data`: the guard against a silent new etcd cluster (issue 13).
 *
 * etcd decides from its data directory alone whether it bootstraps: an empty one with
 * `ETCD_INITIAL_CLUSTER_STATE=new` makes a new, **empty** cluster (the first member of a re-run
 * `cluster create` on a host whose disk was lost), and one with `existing` rejoins with no data a
 * cluster that still counts it as a member with data. Either way writes are lost, or two clusters
 * answer as one. The unit's `AssertPathExists=<dataDir>/member` keeps systemd and the supervisor
 * from doing it (controller/src/roles/etcd.ts); this module keeps the role itself from doing it,
 * since the role is what creates that directory.
 *
 * How the host remembers it had a member: a marker `<dataDir>.ballast-member.json` beside (not in)
 * the data directory, written when the member directory is first prepared or found. A lost data
 * directory (a disk, an `rm -rf`) leaves the marker, and `prepare` then refuses with
 * BALLAST_ERR_ETCD_DATA_LOST naming the host and the way out. What removes the data on purpose
 * (reset, a join's rollback, a recovery's set-aside) runs `forget` after it. A host that lost its
 * whole root file system lost the marker too: that case is for the controller's records (the
 * member list), not this module.
 *
 * - `prepare`: member dir present → kept (the marker written if missing: hosts from before the
 *   marker adopt it); absent and no marker → created 0700 with the marker; absent with marker → refused.
 * - `require`: refused unless `<dataDir>/member` holds etcd data (a `.wal` file in `wal/` or
 *   `snap/db`): the member `cluster recover --from-member` keeps. Changes nothing.
 * - `forget`: the marker removed.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../../../../shared/src/atomic-file.js';
import { BallastError } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { file } from '../../../../shared/src/tasks/safety.js';
import { lstatOrNull } from '../attrs.js';
import type { Module, ModuleContext, ModuleOutcome } from '../module.js';
import { safePath } from '../safe-path.js';
import { DEFAULT_ETCD_DATA_DIR, ETCD_DATA_RULES } from './etcd-restore.js';

type Args = ModuleArgs<'etcd_data'>;

/** The marker's name: the data dir's path plus this. */
export const ETCD_MEMBER_MARKER_SUFFIX = '.ballast-member.json';

/** What the marker records. */
interface MemberMarker {
  member: string;
  dataDir: string;
  /** When this host's member directory was first prepared or found (ISO 8601). */
  since: string;
}

/** Options of {@link createEtcdDataModule}. */
export interface EtcdDataModuleOptions {
  /** Clock for the marker. */
  now?: () => Date;
}

interface Paths {
  dataDir: string;
  member: string;
  marker: string;
  host: { dataDir: string; member: string; marker: string };
}

async function pathsOf(args: Args, ctx: ModuleContext): Promise<Paths> {
  const dataDir = args.dataDir ?? DEFAULT_ETCD_DATA_DIR;
  const marker = `${dataDir}${ETCD_MEMBER_MARKER_SUFFIX}`;
  const what = 'guard the etcd data in';
  return {
    dataDir,
    member: `${dataDir}/member`,
    marker,
    host: {
      dataDir: await safePath(ctx, dataDir, ETCD_DATA_RULES, what),
      member: await safePath(ctx, `${dataDir}/member`, ETCD_DATA_RULES, what),
      marker: await safePath(ctx, marker, [file(marker)], what),
    },
  };
}

async function readMarker(path: string): Promise<MemberMarker | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BallastError('BALLAST_ERR_IO', `failed to read the etcd member marker ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as Partial<MemberMarker>;
    if (typeof parsed.member === 'string' && typeof parsed.since === 'string') return parsed as MemberMarker;
  } catch {
    // fall through: an unreadable marker still says a member was here (it is written atomically, so never torn)
  }
  return { member: '(unreadable marker)', dataDir: '', since: '(unknown)' };
}

/** True when `<dataDir>/member` holds what etcd writes once it ran: a WAL segment or the backend db. */
async function holdsData(memberDir: string): Promise<boolean> {
  if ((await lstatOrNull(`${memberDir}/snap/db`))?.isFile() === true) return true;
  const wal = await readdir(`${memberDir}/wal`).catch(() => [] as string[]);
  return wal.some((f) => f.endsWith('.wal'));
}

function dataLost(args: Args, p: Paths, marker: MemberMarker): BallastError {
  return new BallastError(
    'BALLAST_ERR_ETCD_DATA_LOST',
    `failed to prepare etcd on ${args.member}: ${p.member} is gone, but this host ran etcd member ${marker.member} (since ${marker.since}, ${p.marker}). ` +
      'Starting it would create a new, empty cluster or rejoin with no data. Nothing was started. If other members still have quorum: ' +
      `ballastctl node replace ${args.member}; if quorum is lost: ballastctl cluster recover CLUSTER --from-member <a host whose data survived> or --from-snapshot ID. ` +
      `Only if this host's data was removed on purpose: delete ${p.marker}`,
  );
}

/** See the file comment. */
export function createEtcdDataModule(opts: EtcdDataModuleOptions = {}): Module<'etcd_data'> {
  const now = opts.now ?? (() => new Date());
  return {
    name: 'etcd_data',
    async run(args, ctx): Promise<ModuleOutcome> {
      const p = await pathsOf(args, ctx);
      const marker = await readMarker(p.host.marker);
      if (args.action === 'forget') {
        if (marker === null) return { changed: false, message: `${p.marker} absent` };
        if (ctx.check) return { changed: true, message: `would remove ${p.marker}` };
        await rm(p.host.marker, { force: true });
        return { changed: true, message: `removed ${p.marker}: etcd on ${args.member} may start as a new member` };
      }
      if (args.action === 'require') {
        if (await holdsData(p.host.member)) return { changed: false, message: `${p.member} holds etcd data` };
        throw new BallastError(
          'BALLAST_ERR_ETCD_DATA_LOST',
          `failed to keep the etcd data of ${args.member}: ${p.member} holds no etcd data (no WAL, no db); forcing a new cluster from it would make an empty one. ` +
            'Choose a member whose data survived (ballastctl etcd status), or ballastctl cluster recover CLUSTER --from-snapshot ID',
        );
      }
      const memberDir = await lstatOrNull(p.host.member);
      if (memberDir !== null) {
        if (!memberDir.isDirectory()) throw new BallastError('BALLAST_ERR_IO', `failed to prepare etcd on ${args.member}: ${p.member} is not a directory`);
        if (marker !== null) return { changed: false, message: `${p.member} present` };
        if (ctx.check) return { changed: true, message: `would record ${p.marker} (${p.member} present)` };
        await writeMarker(p, args, now);
        return { changed: true, message: `${p.member} present; recorded in ${p.marker}` };
      }
      if (marker !== null) throw dataLost(args, p, marker);
      const diff = ctx.diff ? `+ ${p.member}/ (0700)\n+ ${p.marker}\n` : undefined;
      if (ctx.check) return { changed: true, message: `would create ${p.member} for a new member`, diff };
      await mkdir(p.host.dataDir, { recursive: true, mode: 0o700 });
      await mkdir(p.host.member, { mode: 0o700 });
      await writeMarker(p, args, now);
      return { changed: true, message: `created ${p.member} for a new member; recorded in ${p.marker}`, diff };
    },
  };
}

async function writeMarker(p: Paths, args: Args, now: () => Date): Promise<void> {
  const marker: MemberMarker = { member: args.member, dataDir: p.dataDir, since: now().toISOString() };
  await writeFileAtomic(p.host.marker, `${JSON.stringify(marker)}\n`, 0o600);
}

/** `etcd_data` with the real clock. */
export const etcdDataModule: Module<'etcd_data'> = createEtcdDataModule();
