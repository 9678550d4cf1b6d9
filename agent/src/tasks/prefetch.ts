/**
 * Download-ahead for one run: while task N runs, the downloads of the next tasks (artifacts, image
 * archives) already stream in, one at a time, so a role that installs kubelet, kubeadm and kubectl
 * or imports three images waits for the network once instead of per task.
 *
 * Nothing here decides what lands on the host. Each module says what its task will need
 * ({@link Module.prefetch}: judged read-only, e.g. "kubelet is not the pinned one"), the download is
 * verified against the task's own pinned sha256 as it streams (the same `fetchVerified` a module
 * uses), and a file is handed only to a task that asks for exactly that name, version, arch and
 * sha256. A module that finds no prefetched file downloads it itself, so a wrong guess costs one
 * download, never correctness.
 *
 * Bounded: at most `lookahead` files downloaded ahead that no task has taken yet (the one streaming
 * included), one download at a time, files in the agent's private work dir (`.prefetch-*`). The
 * bound counts files, not tasks: a long run of tasks that download nothing (directories, units,
 * templates) does not stall the stream; `close()` at the end of the run aborts what is still
 * streaming and removes every file no task took. Files a crash left behind are removed when the
 * next run starts (one run at a time per host, so none can be in use).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { WireTask as Task } from '../../../shared/src/tasks/task.js';
import type { ModuleContext, PrefetchedDownloads, PrefetchRef } from './module.js';

/** Prefix of download-ahead files in the work dir. */
export const PREFETCH_PREFIX = '.prefetch-';

/** How a prefetcher downloads: `fetchVerified` in production (streams, hashes, fails closed). */
export type PrefetchDownload = (ref: PrefetchRef, dest: string, ctx: ModuleContext) => Promise<void>;

/** Options of {@link createPrefetcher}. */
export interface PrefetcherOptions {
  tasks: readonly Task[];
  /** The module's read-only guess (the registry's `prefetch`). */
  plan(module: string, args: unknown, ctx: ModuleContext): Promise<PrefetchRef | null>;
  download: PrefetchDownload;
  /** The artifact work dir, resolved on the host. */
  workDir: string;
  /** The run's module context (its signal ends the downloads too). */
  ctx: ModuleContext;
  log: Logger;
  /** Files downloaded ahead and not yet taken, at most (default 2). */
  lookahead?: number;
}

/** One run's download-ahead. */
export interface Prefetcher extends PrefetchedDownloads {
  /** Task `index` is about to run: the downloads up to `index + lookahead` may start. */
  advance(index: number): void;
  /** Stops streaming and removes every file no task took. Never throws. */
  close(): Promise<void>;
}

interface Entry {
  index: number;
  ref: PrefetchRef;
  file: string;
  /** The verified file, or null when the download failed (the task then downloads it itself). */
  done: Promise<string | null>;
  taken: boolean;
}

const sameRef = (a: PrefetchRef, b: PrefetchRef) => a.name === b.name && a.version === b.version && a.arch === b.arch && a.sha256 === b.sha256;

/** Starts walking the run's tasks in the background; see the module comment. */
export function createPrefetcher(opts: PrefetcherOptions): Prefetcher {
  const lookahead = opts.lookahead ?? 2;
  const abort = new AbortController();
  const onRunAbort = () => abort.abort();
  opts.ctx.signal.addEventListener('abort', onRunAbort, { once: true });
  const ctx: ModuleContext = { ...opts.ctx, signal: abort.signal, prefetched: undefined };
  const entries: Entry[] = [];
  let current = -1;
  let wake: (() => void) | null = null;

  // Room for one more file ahead: fewer than `lookahead` downloaded (or streaming) and not taken by
  // a task still to come. A file whose task ran without taking it (it found its file already in
  // place) no longer counts; close() removes it.
  const room = () => entries.filter((e) => !e.taken && e.index >= current).length < lookahead;
  const waitForRoom = () =>
    new Promise<void>((resolve) => {
      if (room() || abort.signal.aborted) return resolve();
      wake = () => {
        if (room() || abort.signal.aborted) {
          wake = null;
          resolve();
        }
      };
    });

  const walk = async () => {
    await sweep(opts.workDir, opts.log);
    await mkdir(opts.workDir, { recursive: true, mode: 0o700 });
    for (const [index, task] of opts.tasks.entries()) {
      await waitForRoom();
      if (abort.signal.aborted) return;
      // A task that already started downloads for itself.
      if (index <= current) continue;
      let ref: PrefetchRef | null;
      try {
        ref = await opts.plan(task.module, task.args, ctx);
      } catch (err) {
        opts.log.debug({ index, err: messageOf(err) }, 'no download-ahead for this task');
        continue;
      }
      if (ref === null || abort.signal.aborted || index <= current) continue;
      const file = join(opts.workDir, `${PREFETCH_PREFIX}${ref.name}-${ref.version}-${ref.arch}.${randomBytes(6).toString('hex')}`);
      const done = opts.download(ref, file, ctx).then(
        () => file,
        (err: unknown) => {
          if (!abort.signal.aborted) opts.log.info({ index, artifact: ref.name, err: messageOf(err) }, 'download-ahead failed; the task downloads itself');
          return null;
        },
      );
      entries.push({ index, ref, file, done, taken: false });
      await done;
    }
  };
  const walking = walk().catch((err: unknown) => opts.log.warn({ err: messageOf(err) }, 'download-ahead stopped'));

  return {
    advance(index) {
      current = index;
      wake?.();
    },
    async take(ref) {
      const entry = entries.find((e) => !e.taken && sameRef(e.ref, ref));
      if (entry === undefined) return null;
      entry.taken = true;
      wake?.();
      return entry.done;
    },
    async close() {
      opts.ctx.signal.removeEventListener('abort', onRunAbort);
      abort.abort();
      wake?.();
      await walking;
      await Promise.all(entries.map((e) => e.done));
      for (const e of entries) if (!e.taken) await rm(e.file, { force: true }).catch(() => undefined);
    },
  };
}

/** Removes download-ahead files an earlier run left (a crash or kill mid-run). */
async function sweep(dir: string, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => n.startsWith(PREFETCH_PREFIX))) {
    await rm(join(dir, name), { force: true }).catch((err: unknown) => log.warn({ file: name, err: messageOf(err) }, 'failed to remove a stale download-ahead file'));
  }
}
