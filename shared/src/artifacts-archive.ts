/**
 * Archive helpers shared by the controller's mirror and the agent's `artifact` module: stream-to-file
 * with sha256 and a size bound (the hashing itself is shared/src/hashing.ts), archive sniffing by
 * magic bytes, and the system `tar` run with argv (never a shell).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, open, rm, stat } from 'node:fs/promises';
import { finished, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BallastError, type ErrorCode, messageOf } from './errors.js';

/** How an artifact file is packed: gzip'd tar, plain tar, or a single file (e.g. `runc.amd64`). */
export type ArchiveKind = 'tar.gz' | 'tar' | 'file';

/** A stream exceeded its size bound (BALLAST_ERR_TOO_LARGE: the HTTP layer answers 413). */
export class LimitExceededError extends BallastError {
  constructor(message: string) {
    super('BALLAST_ERR_TOO_LARGE', message);
    this.name = 'LimitExceededError';
  }
}

/** Options of {@link writeStreamToFile}. */
export interface WriteStreamOptions {
  /** Refuse (LimitExceededError) once more than this many bytes arrived. */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Mode of the new file (created exclusively: an existing file is an error). */
  mode?: number;
  /** Names the stream in the size-limit message, e.g. "bundle upload". */
  what?: string;
  /**
   * fsync the file before returning (default true). False only for a work file that is verified and
   * then installed (with its own fsync) or handed on and removed: syncing it would write every byte
   * to disk once more, for a file no crash can leave half-used.
   */
  fsync?: boolean;
}

/** Received chunks are written in batches of about this size: one `writev` per batch, not per chunk. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Streams `source` into a new file at `path`, hashing as it goes, and fsyncs it (unless told not to). Returns the sha256
 * (lower-case hex) and the byte count. On any failure the partial file is left for the caller to
 * remove (it owns the temp path and knows when to clean up).
 *
 * A plain 'data' loop with batched writes rather than `pipeline(source, meter, fileStream)`: a TLS
 * download arrives in 16 KiB chunks, and under the agent's `--lite-mode` (interpreted JavaScript)
 * three stream stages per chunk cost more CPU than the decryption and the hash together — half of it
 * per byte is gone this way (issue 11: ~1.4 → ~0.8 CPU-s per 200 MB downloaded, measured on node 22).
 * A chunk past `maxBytes` is neither hashed nor written.
 */
export async function writeStreamToFile(
  source: NodeJS.ReadableStream,
  path: string,
  options: WriteStreamOptions = {},
): Promise<{ sha256: string; size: number }> {
  if (options.signal?.aborted === true) throw abortError(options.signal);
  // The source may fail while the file is being opened: keep that error rather than lose it.
  const readable = source as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
  let early: unknown = null;
  const onEarly = (err: unknown) => {
    early ??= err;
  };
  readable.on('error', onEarly);
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx', options.mode ?? 0o600);
  } catch (err) {
    readable.destroy?.();
    throw err;
  } finally {
    readable.removeListener('error', onEarly);
  }
  try {
    if (early !== null) throw early;
    const got = await drainInto(readable, handle, options);
    if (options.fsync !== false) await handle.sync();
    return got;
  } finally {
    await handle.close();
  }
}

/** What `pipeline` rejects with on abort (name AbortError, the signal's reason as its cause), so callers see no difference. */
function abortError(signal: AbortSignal | undefined): Error {
  const err = new Error('The operation was aborted', { cause: signal?.reason });
  err.name = 'AbortError';
  return Object.assign(err, { code: 'ABORT_ERR' });
}

/** Reads `source` to its end into `handle`; see {@link writeStreamToFile}. */
function drainInto(
  readable: NodeJS.ReadableStream & { destroy?: (err?: Error) => void },
  handle: FileHandle,
  options: WriteStreamOptions,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let size = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  // Writes run one after another; the source is paused while one is in flight.
  let writing: Promise<unknown> = Promise.resolve();
  const flush = () => {
    const buffers = batch;
    batch = [];
    batchBytes = 0;
    writing = writing.then(() => (buffers.length === 0 ? undefined : handle.writev(buffers)));
    return writing;
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      stopWatching();
      readable.removeListener('data', onData);
      // Ended here; whatever it reports afterwards (a reset socket) has nobody left to tell.
      readable.on('error', () => undefined);
      readable.destroy?.();
      // A write still in flight must end before the caller closes the handle.
      writing.then(
        () => reject(err),
        () => reject(err),
      );
    };
    const onAbort = () => fail(abortError(options.signal));
    const onData = (chunk: Buffer | string) => {
      if (settled) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > max) {
        fail(new LimitExceededError(`failed to receive ${options.what ?? 'stream'}: it is larger than the limit of ${max} bytes`));
        return;
      }
      hash.update(buf);
      batch.push(buf);
      batchBytes += buf.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        readable.pause();
        flush().then(() => {
          if (!settled) readable.resume();
        }, fail);
      }
    };
    // finished(): 'end', or an error / a close before the end (a dropped connection) as an error.
    const stopWatching = finished(readable, (err) => {
      if (err !== undefined && err !== null) {
        fail(err);
        return;
      }
      flush().then(() => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', onAbort);
        resolve({ sha256: hash.digest('hex'), size });
      }, fail);
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    readable.on('data', onData);
    readable.resume();
  });
}

/** Tells a gzip'd tar, a plain tar and anything else apart by their magic bytes. */
export async function sniffArchive(path: string): Promise<ArchiveKind> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    // POSIX ustar and GNU tar both put "ustar" at offset 257 of the first header.
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return 'file';
  } finally {
    await handle.close();
  }
}

/** A member name as the manifest or `install[].from` writes it: without leading `./`. */
export function normalizeMember(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  return n.replace(/\/+$/, '');
}

/** Options of the tar helpers: what failure code to raise and a label for messages. */
export interface TarOptions {
  /** Error code when tar fails (a corrupt upload is a validation error, a verified one internal). */
  code?: ErrorCode;
  /** What is being unpacked, for messages, e.g. "bundle" or "artifact etcd 3.4.23 (amd64)". */
  what: string;
  signal?: AbortSignal;
  /**
   * Most bytes the gzip stream may decompress to (tar.gz only; a plain tar is bounded by its own
   * size on disk). Past it tar is killed and BALLAST_ERR_ARCHIVE_TOO_LARGE raised: a 1 MB bomb
   * stops at the bound, having written at most that much. Default {@link unpackBound} of the file.
   */
  maxUnpackedBytes?: number;
}

/** Absolute cap on what one archive may decompress to, whatever its manifest says. */
export const MAX_UNPACKED_BYTES = 4 * 1024 ** 3;
/** Without declared sizes, an archive may expand this many times its compressed size (binaries gzip ~3×)... */
export const MAX_EXPANSION_RATIO = 32;
/** ...but small archives may always expand to this (a tarball of scripts compresses well). */
export const MIN_UNPACK_BOUND = 64 * 1024 ** 2;

/** The default decompression bound for a compressed file of `compressedBytes`. */
export function unpackBound(compressedBytes: number): number {
  return Math.min(MAX_UNPACKED_BYTES, Math.max(MIN_UNPACK_BOUND, compressedBytes * MAX_EXPANSION_RATIO));
}

/** What a tar stream holding these member sizes decompresses to: 512-byte headers, data padded to 512, 10 KiB records. */
export function tarStreamBytes(memberSizes: readonly number[]): number {
  const body = memberSizes.reduce((sum, size) => sum + 512 + Math.ceil(size / 512) * 512, 0);
  // Long names (GNU ././@LongLink) take another header and block; allow one per member, plus the end blocks and record padding.
  return body + memberSizes.length * 1024 + 1024 + 10240;
}

const MAX_LISTING_BYTES = 4 * 1024 * 1024;

/** Member names of a tar archive, as stored (may carry `./`). At most 4 MiB of listing is read. */
export async function listTar(path: string, kind: 'tar' | 'tar.gz', options: TarOptions): Promise<string[]> {
  const out = await runTar(path, kind, ['-t'], options, 'list');
  return out.split('\n').filter((line) => line !== '');
}

/**
 * Extracts only `members` (stored names) into `dest`, never as their owners or with their modes:
 * the caller sets modes itself. GNU tar refuses `..` members and defers dangerous symlinks.
 */
export async function extractTar(path: string, kind: 'tar' | 'tar.gz', dest: string, members: string[], options: TarOptions): Promise<void> {
  if (members.length === 0) return;
  await runTar(path, kind, ['-x', '-C', dest, '--no-same-owner', '--no-same-permissions', '--', ...members], options, 'unpack');
}

/**
 * Runs the system tar with argv; resolves with stdout, rejects with a coded error quoting stderr.
 * A gzip'd archive is decompressed here, not by tar, so that the decompressed bytes can be counted
 * and the stream cut at `maxUnpackedBytes` (tar reads the tar stream from stdin).
 */
async function runTar(path: string, kind: 'tar' | 'tar.gz', args: string[], options: TarOptions, verb: string): Promise<string> {
  if (kind === 'tar') return spawnTar([args[0]!, '-f', path, ...args.slice(1)], options, verb, null);
  const gz = await meteredGunzip(path, options, verb);
  try {
    return await spawnTar([args[0]!, '-f', '-', ...args.slice(1)], options, verb, gz.stream);
  } catch (err) {
    throw gz.tooLarge(err) ?? err;
  } finally {
    gz.close();
  }
}

/**
 * Decompresses a tar.gz into a plain tar at `dest` (created, 0600) under the same bound as the tar
 * helpers: one gzip pass then serves both the listing and the extraction, which read the plain tar.
 * On failure `dest` is removed.
 */
export async function gunzipToFile(path: string, dest: string, options: TarOptions): Promise<void> {
  const gz = await meteredGunzip(path, options, 'unpack');
  try {
    await pipeline(gz.stream, createWriteStream(dest, { flags: 'wx', mode: 0o600 }), ...(options.signal === undefined ? [] : [{ signal: options.signal }]));
  } catch (err) {
    await rm(dest, { force: true });
    const tooLarge = gz.tooLarge(err);
    if (tooLarge !== null) throw tooLarge;
    throw new BallastError(options.code ?? 'BALLAST_ERR_IO', `failed to decompress ${options.what}: ${messageOf(err)}`, { cause: err });
  } finally {
    gz.close();
  }
}

/** The gunzip'd bytes of `path`, cut at the bound; `tooLarge(err)` says whether a failure was the bound. */
async function meteredGunzip(path: string, options: TarOptions, verb: string) {
  const bound = options.maxUnpackedBytes ?? unpackBound((await stat(path)).size);
  let unpacked = 0;
  let overflow = false;
  const meter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      unpacked += chunk.length;
      if (unpacked > bound) {
        overflow = true;
        done(new Error('decompression bound exceeded'));
        return;
      }
      done(null, chunk);
    },
  });
  const source = createReadStream(path).pipe(createGunzip());
  source.on('error', (err) => meter.destroy(err));
  return {
    stream: source.pipe(meter) as NodeJS.ReadableStream,
    tooLarge: (err: unknown): BallastError | null =>
      overflow
        ? new BallastError(
            'BALLAST_ERR_ARCHIVE_TOO_LARGE',
            `failed to ${verb} ${options.what}: it decompresses to more than ${bound} bytes (what its manifest declares, or the cap for its compressed size); refused before unpacking further`,
            { cause: err },
          )
        : null,
    close: () => {
      source.destroy();
      meter.destroy();
    },
  };
}

/** Spawns tar; `stdin`, when given, is piped into it (and an error on it fails the call). */
function spawnTar(args: string[], options: TarOptions, verb: string, stdin: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    let out = '';
    let err = '';
    let outBytes = 0;
    let inputError: Error | null = null;
    const sink = child.stdin;
    // tar exiting early (EPIPE) is reported by its exit status; only a failing source matters here.
    sink.on('error', () => {});
    if (stdin === null) {
      sink.end();
    } else {
      stdin.on('error', (e: Error) => {
        inputError = e;
        child.kill('SIGKILL');
      });
      stdin.pipe(sink);
    }
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      outBytes += d.length;
      if (outBytes > MAX_LISTING_BYTES) {
        child.kill('SIGKILL');
        return;
      }
      out += d;
    });
    child.stderr.on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    const fail = (why: string, cause?: unknown) =>
      reject(new BallastError(options.code ?? 'BALLAST_ERR_VALIDATION', `failed to ${verb} ${options.what}: ${why}`, { cause }));
    child.on('error', (e) => fail(e.message, e));
    child.on('close', (code, signal) => {
      if (inputError !== null) fail(`reading the archive failed: ${inputError.message}`, inputError);
      else if (outBytes > MAX_LISTING_BYTES) fail(`its listing exceeds ${MAX_LISTING_BYTES} bytes`);
      else if (code === 0) resolve(out);
      else fail(`tar exited ${code ?? signal}: ${err.trim().split('\n').slice(0, 3).join('; ') || 'no message'}`);
    });
  });
}
