/**
 * Test fixtures of the store (STYLE.md §12): real SQLite files in temporary directories, closed
 * and removed by the test's clean-up. No test-framework imports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from './store.js';

/** A store in a fresh temporary directory (`dir/ballast.db`). */
export interface TempStore {
  dir: string;
  store: Store;
  /** Closes the store and removes the directory. */
  cleanup(): Promise<void>;
}

/** Opens a {@link TempStore}; `prefix` names its directory under the system temp dir. */
export async function tempStore(prefix: string): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const store = openStore({ path: join(dir, 'ballast.db') });
  return {
    dir,
    store,
    async cleanup() {
      store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Database files and stores for tests that reopen a file (a restart) or need several. */
export interface TempStores {
  /** A database path in a new temporary directory (the file does not exist yet). */
  path(): string;
  /** Opens a store on `path` (with `now` as its clock; the wall clock when absent). */
  open(path: string, now?: () => number): Store;
  /** Closes every store opened and removes every directory made; call it after each test. */
  cleanup(): void;
}

/** A {@link TempStores}; `prefix` names its directories under the system temp dir. */
export function tempStores(prefix: string): TempStores {
  const dirs: string[] = [];
  const stores: Store[] = [];
  return {
    path() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return join(dir, 'ballast.db');
    },
    open(path, now) {
      const store = openStore(now === undefined ? { path } : { path, now });
      stores.push(store);
      return store;
    },
    cleanup() {
      for (const store of stores.splice(0)) store.close();
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
