/**
 * The download cache that makes `artifacts bundle` resumable: every file it downloads is kept,
 * once its pin verified, under `<dir>/sha256/<hex>`. A rerun after an interruption or a failure
 * downloads only what is missing; a cached file is re-hashed before use (a damaged cache entry is
 * dropped and downloaded again). Downloads land in `<dir>/tmp` first and are renamed in only
 * after verification, so the cache never holds a partial or unverified file under a hash name.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hashFile } from '../../../shared/src/hashing.js';

/** The default cache: `$XDG_CACHE_HOME/ballast/downloads`, else `~/.cache/ballast/downloads`. */
export function defaultCacheDir(env: Record<string, string | undefined>, homedir: string): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir, '.cache');
  return join(base, 'ballast', 'downloads');
}

/** See the module comment. */
export class DownloadCache {
  readonly dir: string;

  /** `dir` is made absolute: the bundle writer links to cached files from elsewhere. */
  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** The path of the verified file with this sha256, or null when it is not (intact) in the cache. */
  async get(sha256: string, signal?: AbortSignal): Promise<{ path: string; size: number } | null> {
    const path = this.#path(sha256);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if ((await hashFile(path, signal)) === sha256) return { path, size };
    await rm(path, { force: true });
    return null;
  }

  /**
   * Runs `download` into a fresh temp path and, when it resolves (it verifies the sha256 itself),
   * renames the file in under its hash. On failure the temp file is removed.
   */
  async fill(sha256: string, download: (tmp: string) => Promise<void>): Promise<{ path: string; size: number }> {
    const tmpDir = join(this.dir, 'tmp');
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.dir, 'sha256'), { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, `${sha256.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    try {
      await download(tmp);
      const path = this.#path(sha256);
      await rename(tmp, path);
      return { path, size: (await stat(path)).size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  #path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    return join(this.dir, 'sha256', sha256);
  }
}
