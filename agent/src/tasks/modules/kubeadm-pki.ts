/**
 * Keeps /etc/kubernetes/pki across a `kubeadm reset`. The controller writes its CAs (and sa.key,
 * the front-proxy and etcd client pairs) there before init, and kubeadm reset empties the
 * directory: an init after the reset would then make its own CAs, a cluster the controller cannot
 * talk to. The kubeadm module resets a half-done init or join, so it saves the files before and
 * writes them back after.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../../shared/src/atomic-file.js';
import { hostPath, type ModuleContext } from '../module.js';

export const PKI_DIR = '/etc/kubernetes/pki';

/** One saved file: its path under the PKI directory, its bytes and permission bits. */
interface SavedFile {
  rel: string;
  data: Buffer;
  mode: number;
}

/** Reads every regular file under the PKI directory (none when it does not exist). */
export async function savePki(ctx: ModuleContext): Promise<SavedFile[]> {
  const root = hostPath(ctx, PKI_DIR);
  const out: SavedFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(root, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names.sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const info = await stat(join(root, child));
      if (info.isDirectory()) await walk(child);
      else if (info.isFile()) out.push({ rel: child, data: await readFile(join(root, child)), mode: info.mode & 0o777 });
    }
  };
  await walk('');
  return out;
}

/** Writes the saved files back (atomically, with their modes). */
export async function restorePki(ctx: ModuleContext, files: SavedFile[]): Promise<void> {
  const root = hostPath(ctx, PKI_DIR);
  for (const file of files) await writeFileAtomic(join(root, file.rel), file.data, file.mode);
}
