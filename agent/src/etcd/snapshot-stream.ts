/**
 * The agent's snapshot upload, overlapped with the snapshot itself: `etcdctl snapshot save` writes
 * the database to `<file>.part` strictly in order (one io.Copy from etcd's snapshot stream, then
 * fsync and a rename), so the agent reads that file as it grows and streams it to the controller
 * at the same time — the upload ends a moment after etcdctl does instead of starting then. The
 * bytes sent are hashed on the way; once etcdctl has exited successfully the file's final size
 * must equal what was read, so what the controller sealed is exactly the file etcdctl saved (and
 * that `etcdutl snapshot status` measures). If etcdctl fails, the upload is aborted mid-stream and
 * the controller discards what it sealed so far.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { request } from 'node:https';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { snapshotUploadPath } from '../../../shared/src/protocol/etcd.js';

const CHUNK = 1024 * 1024;
/** How long the reader waits for etcdctl to write more once it has caught up. */
const POLL_MS = 5;

/** A command started in the background whose end the tail reader watches. */
export interface RunningCommand {
  /** Resolves with stdout when it exits 0; rejects with BALLAST_ERR_COMMAND_FAILED otherwise. */
  readonly done: Promise<string>;
  /** 'running', 'ok' or 'failed'. */
  state(): 'running' | 'ok' | 'failed';
}

/** Starts `bin args` (fixed argv, minimal environment); see {@link RunningCommand}. */
export function startCommand(bin: string, args: readonly string[], timeoutMs: number): RunningCommand {
  let state: 'running' | 'ok' | 'failed' = 'running';
  const done = new Promise<string>((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024, env: { PATH: '/usr/bin:/bin', ETCDCTL_API: '3' } }, (err, stdout, stderr) => {
      if (err === null) {
        state = 'ok';
        return resolve(stdout);
      }
      state = 'failed';
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      reject(new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to run etcdctl ${args.find((a) => !a.startsWith('-')) ?? ''}: ${messageOf(err)}${tail ? `: ${tail}` : ''}`, { cause: err }));
    });
  });
  done.catch(() => undefined); // the caller awaits it; the tail reader only reads its state
  return { done, state: () => state };
}

/** Rethrows a failed writer's error (its `done` rejected). */
async function writerFailure(writer: RunningCommand): Promise<never> {
  await writer.done;
  throw new BallastError('BALLAST_ERR_INTERNAL', 'a failed command reported success');
}

/**
 * Yields the bytes of the file `writer` is writing: `partPath` while it runs (or `finalPath` if no
 * part file ever appeared), until the writer has exited successfully and the end is reached.
 * Throws when the writer fails.
 */
export async function* tailFile(opts: { partPath: string; finalPath: string; writer: RunningCommand }): AsyncGenerator<Buffer> {
  let fh: FileHandle | null = null;
  while (fh === null) {
    const before = opts.writer.state();
    if (before === 'failed') await writerFailure(opts.writer);
    try {
      fh = await open(before === 'ok' ? opts.finalPath : opts.partPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || before === 'ok') throw err;
      await sleep(POLL_MS);
    }
  }
  try {
    let pos = 0;
    for (;;) {
      // The writer's state is read before the read: 0 bytes after it had exited is the true end.
      const before = opts.writer.state();
      if (before === 'failed') await writerFailure(opts.writer);
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        yield buf.subarray(0, bytesRead);
      } else if (before === 'ok') {
        return;
      } else {
        await sleep(POLL_MS);
      }
    }
  } finally {
    await fh.close();
  }
}

/** Where to upload and with which identity. */
export interface UploadTarget {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** PUTs `source` (chunked) to the controller's upload slot; resolves with its sha256 and size. */
export async function uploadSnapshot(target: UploadTarget, uploadId: string, source: AsyncIterable<Buffer>, maxBytes: number): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new BallastError('BALLAST_ERR_TOO_LARGE', `failed to upload the etcd snapshot: it is more than the ${maxBytes} bytes accepted`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const url = new URL(snapshotUploadPath(uploadId), target.server);
  const req = request(url, { method: 'PUT', ca: target.caPem, cert: target.certPem, key: target.keyPem, headers: { 'content-type': 'application/octet-stream' } });
  const answered = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => {
        if (res.statusCode === 200) resolve();
        else reject(new BallastError('BALLAST_ERR_CONNECT', `failed to upload the etcd snapshot: the controller answered HTTP ${res.statusCode}: ${body.slice(0, 500)}`));
      });
    });
    req.on('error', (err) => reject(new BallastError('BALLAST_ERR_CONNECT', `failed to upload the etcd snapshot: ${messageOf(err)}`, { cause: err })));
  });
  answered.catch(() => undefined); // awaited below, after the body
  try {
    await pipeline(Readable.from(source), meter, req);
  } catch (err) {
    req.destroy();
    // The controller's answer says more than a broken pipe when it refused first.
    const refused = await answered.then(() => null, (e: unknown) => e);
    if (err instanceof BallastError) throw err;
    throw refused ?? new BallastError('BALLAST_ERR_CONNECT', `failed to upload the etcd snapshot: ${messageOf(err)}`, { cause: err });
  }
  await answered;
  return { sha256: hash.digest('hex'), size };
}
