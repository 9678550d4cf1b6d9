/**
 * The controller's artifact mirror: files under `<data dir>/artifacts/<name>/<version>/<arch>/<file>`
 * indexed in SQLite. Imports and fetches stage and verify everything in a private work dir first;
 * only a fully verified set is moved in (rename on the same filesystem, so each file appears whole)
 * and recorded in one transaction. Re-importing what is already there changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import {
  type ArtifactRef,
  type ArtifactSpec,
  artifactLabel,
  type Catalogue,
  DEFAULT_MAX_BUNDLE_BYTES,
} from '../../../shared/src/artifacts-api.js';
import { BallastError } from '../../../shared/src/errors.js';
import type { ArtifactRecord, ArtifactRepo } from './artifact-repo.js';
import { type StagedArtifact, stageBundle } from './bundle.js';
import { DEFAULT_CATALOGUE } from './catalogue.js';
import { checkPins, type ImportTrust, type TrustReport } from './trust.js';
import { downloadVerified } from './download.js';
import { checkCatalogueEntries } from './manifest.js';
import { DEFAULT_UPSTREAM_HOSTS, type UpstreamPolicy } from './upstream.js';

/** Options of {@link ArtifactMirror}. */
export interface ArtifactMirrorOptions {
  /** The mirror directory, `<data dir>/artifacts`. */
  dir: string;
  repo: ArtifactRepo;
  log: Logger;
  now?: () => number;
  /** Largest accepted bundle upload (default 2 GiB). */
  maxBundleBytes?: number;
  /** Largest accepted single download of `fetch` (default 2 GiB). */
  maxDownloadBytes?: number;
  /** Per-download time limit of `fetch` (default 10 minutes). */
  downloadTimeoutMs?: number;
  /** The catalogue `fetch` uses when the request brings none (default: the built-in one). */
  catalogue?: Catalogue;
  /** Where `fetch` may download from (default: {@link DEFAULT_UPSTREAM_HOSTS}, public addresses only). */
  upstream?: UpstreamPolicy;
  /** The pins `fetch` holds a catalogue to (default: the built-in catalogue; tests of the download path pass []). */
  pins?: Catalogue;
}

/** What an import or fetch did to one artifact. */
export interface MirrorChange {
  status: 'added' | 'unchanged';
  record: ArtifactRecord;
}

const STAGING = '.staging';

/** See the module comment. Safe to share between requests: commits are serialized. */
export class ArtifactMirror {
  readonly dir: string;
  readonly maxBundleBytes: number;
  readonly #opts: ArtifactMirrorOptions;
  #tail: Promise<unknown> = Promise.resolve();
  #prepared: Promise<void> | undefined;

  constructor(opts: ArtifactMirrorOptions) {
    this.#opts = opts;
    this.dir = opts.dir;
    this.maxBundleBytes = opts.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  }

  /** Every artifact in the mirror. */
  list(): ArtifactRecord[] {
    return this.#opts.repo.list();
  }

  /** The record and on-disk path of an artifact; null when the mirror has no such artifact. */
  locate(ref: ArtifactRef): { record: ArtifactRecord; path: string } | null {
    const record = this.#opts.repo.get(ref);
    return record === null ? null : { record, path: this.filePath(record) };
  }

  /** Where an artifact's file lives. */
  filePath(spec: ArtifactRef & { file: string }): string {
    for (const segment of [spec.name, spec.version, spec.arch, spec.file]) {
      // Schemas already forbid these; this keeps a bad row from ever naming a path outside the mirror.
      if (segment === '' || segment.startsWith('.') || segment.includes('/')) {
        throw new BallastError('BALLAST_ERR_VALIDATION', `failed to locate artifact ${artifactLabel(spec)}: unsafe path segment "${segment}"`);
      }
    }
    return join(this.dir, spec.name, spec.version, spec.arch, spec.file);
  }

  /** Imports a bundle tarball from `source` (see bundle.ts); nothing is imported unless all of it verifies. */
  async importBundle(
    source: NodeJS.ReadableStream,
    options: { signal?: AbortSignal; trust?: ImportTrust; onTrusted?: (report: TrustReport) => void } = {},
  ): Promise<MirrorChange[]> {
    return this.#withWorkDir(async (workDir) => {
      // Secure by default: without a say-so, the importer is not an admin.
      const trust = options.trust ?? { admin: false };
      const { staged, trust: report } = await stageBundle({ source, workDir, maxBytes: this.maxBundleBytes, signal: options.signal, trust });
      options.onTrusted?.(report);
      if (report.signedBy !== null) {
        this.#opts.log.info({ unpinned: report.unpinned, keyId: report.signedBy.id, keyFile: report.signedBy.source }, 'imported artifacts the catalogue does not pin, signed by a trusted key');
      }
      return this.#commit(staged, []);
    });
  }

  /**
   * Downloads every catalogue entry the mirror does not hold yet, verifying each against its pinned
   * sha256, and commits them together: one mismatch or failed download imports nothing.
   */
  async fetch(catalogue: Catalogue | undefined, options: { signal?: AbortSignal } = {}): Promise<MirrorChange[]> {
    const specs = checkCatalogueEntries(catalogue ?? this.#opts.catalogue ?? DEFAULT_CATALOGUE);
    // A catalogue version is its pinned build, also when an admin's own catalogue names it (trust.ts).
    checkPins(specs, this.#opts.pins ?? DEFAULT_CATALOGUE);
    const present: ArtifactRecord[] = [];
    const needed: ArtifactSpec[] = [];
    for (const spec of specs) {
      const existing = this.#opts.repo.get(spec);
      if (existing !== null) assertSameHash(existing, spec);
      if (existing !== null && (await this.#intact(existing))) present.push(existing);
      else needed.push(spec);
    }
    return this.#withWorkDir(async (workDir) => {
      const staged: StagedArtifact[] = [];
      for (const [i, spec] of needed.entries()) {
        const dest = join(workDir, `${i}-${spec.file}`);
        this.#opts.log.info({ artifact: artifactLabel(spec), url: spec.url }, 'downloading artifact');
        const { size } = await downloadVerified({
          spec,
          dest,
          timeoutMs: this.#opts.downloadTimeoutMs ?? 10 * 60_000,
          maxBytes: this.#opts.maxDownloadBytes ?? DEFAULT_MAX_BUNDLE_BYTES,
          policy: this.#opts.upstream ?? { hosts: DEFAULT_UPSTREAM_HOSTS },
          signal: options.signal,
        });
        staged.push({ spec, path: dest, size });
      }
      return this.#commit(staged, present);
    });
  }

  /** Moves verified files in and records them, under the commit lock. */
  #commit(staged: readonly StagedArtifact[], present: readonly ArtifactRecord[]): Promise<MirrorChange[]> {
    return this.#exclusive(async () => {
      const now = (this.#opts.now ?? Date.now)();
      const changes: MirrorChange[] = present.map((record) => ({ status: 'unchanged', record }));
      const moves: { from: string; to: string; record: ArtifactRecord }[] = [];
      // Decide everything before moving anything: a conflict must leave the mirror untouched.
      for (const s of staged) {
        const existing = this.#opts.repo.get(s.spec);
        if (existing !== null) assertSameHash(existing, s.spec);
        if (existing !== null && (await this.#intact(existing))) {
          changes.push({ status: 'unchanged', record: existing });
          continue;
        }
        const record: ArtifactRecord = { ...s.spec, size: s.size, importedAt: now };
        moves.push({ from: s.path, to: this.filePath(record), record });
      }
      for (const m of moves) {
        await mkdir(dirname(m.to), { recursive: true, mode: 0o755 });
        await rename(m.from, m.to);
        await fsyncDir(dirname(m.to));
      }
      this.#opts.repo.putAll(moves.map((m) => m.record));
      for (const m of moves) {
        changes.push({ status: 'added', record: m.record });
        this.#opts.log.info({ artifact: artifactLabel(m.record), sha256: m.record.sha256, size: m.record.size }, 'artifact added to the mirror');
      }
      return changes.sort((a, b) => key(a.record).localeCompare(key(b.record)));
    });
  }

  /** True when the recorded file is on disk with the recorded size (re-hashing GBs per import is not worth it). */
  async #intact(record: ArtifactRecord): Promise<boolean> {
    try {
      return (await stat(this.filePath(record))).size === record.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // missing: the import puts it back
      throw err;
    }
  }

  /** Runs `fn` with a fresh work dir under `<mirror>/.staging` (same filesystem: renames are atomic). */
  async #withWorkDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const staging = join(this.dir, STAGING);
    // Once per process: remove what a controller killed mid-import left behind.
    this.#prepared ??= (async () => {
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true, mode: 0o700 });
    })().catch((err: unknown) => {
      this.#prepared = undefined;
      throw err;
    });
    await this.#prepared;
    const dir = join(staging, randomBytes(8).toString('hex'));
    await mkdir(dir, { mode: 0o700 });
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

function key(r: ArtifactRef): string {
  return `${r.name}\u0000${r.version}\u0000${r.arch}`;
}

/** A pinned artifact never changes content (or image identity) under the same name, version and arch. */
function assertSameHash(existing: ArtifactRecord, spec: ArtifactSpec): void {
  if (existing.sha256 !== spec.sha256) {
    throw new BallastError(
      'BALLAST_ERR_ARTIFACT_CONFLICT',
      `failed to import artifact ${artifactLabel(spec)}: the mirror holds it with sha256 ${existing.sha256}, the new one has ${spec.sha256}; ` +
        'use a new version for different content; nothing was imported',
    );
  }
  // The same tarball under another reference or ID would make the role import what it did not pick.
  if (existing.image?.ref !== spec.image?.ref || existing.image?.id !== spec.image?.id) {
    const show = (i: { ref: string; id: string } | undefined) => (i === undefined ? 'no image' : `image ${i.ref} (${i.id})`);
    throw new BallastError(
      'BALLAST_ERR_ARTIFACT_CONFLICT',
      `failed to import artifact ${artifactLabel(spec)}: the mirror holds it as ${show(existing.image)}, the new one says ${show(spec.image)}; nothing was imported`,
    );
  }
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
