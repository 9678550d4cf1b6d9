/**
 * The sha256 of a restore-cache file, hashed once per version of the file: a later ask for the same
 * path whose inode, size, mtime and ctime are unchanged gets the hash from then instead of reading
 * the whole file again. A `cluster recover` asks for it at the request, in its `snapshot` step and
 * before each member's download — five full reads of a 1.2 GB file (5–8 s each on this machine,
 * the downloads waiting for theirs) where one proves the same, since any write to the file (or
 * `touch`) moves its ctime. What this does not catch — the disk returning other bytes for an
 * unchanged file — the agents do: each verifies its download against the recorded sha256 before use.
 * Process-local, like the restore cache itself (emptied when the controller starts).
 */
import { stat } from 'node:fs/promises';
import { hashFile } from '../../../shared/src/hashing.js';

/** The fields that change whenever a file's content can have changed. */
function fingerprint(s: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** At most this many files remembered (one per snapshot being restored; bounded anyway). */
const MAX_FILES = 64;

export class FileHashes {
  readonly #known = new Map<string, { fingerprint: string; sha256: string }>();
  readonly #hash: (path: string, signal?: AbortSignal) => Promise<string>;

  /** `hash` is the full read (a port for tests; shared/src/hashing.ts in production). */
  constructor(hash: (path: string, signal?: AbortSignal) => Promise<string> = hashFile) {
    this.#hash = hash;
  }

  /** The sha256 of `path` as it is now (see the file comment). */
  async sha256(path: string, signal?: AbortSignal): Promise<string> {
    const before = fingerprint(await stat(path));
    const known = this.#known.get(path);
    if (known?.fingerprint === before) return known.sha256;
    const sha256 = await this.#hash(path, signal);
    // Changed while it was read: remember nothing (the next ask reads it again).
    if (fingerprint(await stat(path)) !== before) return sha256;
    this.#known.delete(path);
    if (this.#known.size >= MAX_FILES) this.#known.delete(this.#known.keys().next().value as string);
    this.#known.set(path, { fingerprint: before, sha256 });
    return sha256;
  }
}

/** The controller's one instance (the restore cache is the controller's). */
export const restoreCacheHashes = new FileHashes();
