/**
 * Creating tarballs with the system tar (argv, never a shell), reproducibly: members in the order
 * given, owner 0:0, mtime 0, and symlinks followed (`-h`), so a staging dir of links into the
 * download cache packs the files themselves without copying them first.
 */
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { BallastError } from '../../../shared/src/errors.js';

/** Writes `out` (a new file) holding `members` (paths relative to `dir`, in this order), then fsyncs it. */
export async function createTar(opts: { out: string; dir: string; members: readonly string[]; what: string; signal?: AbortSignal }): Promise<void> {
  const args = ['-c', '-h', '-f', opts.out, '-C', opts.dir, '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--no-recursion', '--', ...opts.members];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    const fail = (why: string, cause?: unknown) => reject(new BallastError('BALLAST_ERR_INTERNAL', `failed to write ${opts.what}: ${why}`, { cause }));
    child.on('error', (e) => fail(e.message, e));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else fail(`tar exited ${code ?? signal}: ${err.trim().split('\n').slice(0, 3).join('; ') || 'no message'}`);
    });
  });
  const handle = await open(opts.out, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
