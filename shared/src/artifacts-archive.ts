/**
 * Archive helpers shared by the controller's mirror and the agent's `artifact` module: stream-to-file
 * with sha256 and a size bound (the hashing itself is shared/src/hashing.ts), archive sniffing by
 * magic bytes, and the system `tar` run with argv (never a shell).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { BallastError, type ErrorCode } from './errors.js';
import { Sha256Meter } from './hashing.js';

// Callers import hashing of files from here beside the other artifact helpers; one implementation.
export { hashFile } from './hashing.js';

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
}

/**
 * Streams `source` into a new file at `path`, hashing as it goes, and fsyncs it. Returns the sha256
 * (lower-case hex) and the byte count. On any failure the partial file is left for the caller to
 * remove (it owns the temp path and knows when to clean up).
 */
export async function writeStreamToFile(
  source: NodeJS.ReadableStream,
  path: string,
  options: WriteStreamOptions = {},
): Promise<{ sha256: string; size: number }> {
  const meter = new Sha256Meter({
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    tooLarge: (max) => new LimitExceededError(`failed to receive ${options.what ?? 'stream'}: it is larger than the limit of ${max} bytes`),
  });
  const sink = createWriteStream(path, { flags: 'wx', mode: options.mode ?? 0o600 });
  await pipeline(source, meter, sink, ...(options.signal === undefined ? [] : [{ signal: options.signal }]));
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { sha256: meter.hex(), size: meter.size };
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
}

const MAX_LISTING_BYTES = 4 * 1024 * 1024;

/** Member names of a tar archive, as stored (may carry `./`). At most 4 MiB of listing is read. */
export async function listTar(path: string, kind: 'tar' | 'tar.gz', options: TarOptions): Promise<string[]> {
  const out = await runTar([kind === 'tar.gz' ? '-tzf' : '-tf', path], options, 'list');
  return out.split('\n').filter((line) => line !== '');
}

/**
 * Extracts only `members` (stored names) into `dest`, never as their owners or with their modes:
 * the caller sets modes itself. GNU tar refuses `..` members and defers dangerous symlinks.
 */
export async function extractTar(path: string, kind: 'tar' | 'tar.gz', dest: string, members: string[], options: TarOptions): Promise<void> {
  if (members.length === 0) return;
  await runTar(
    [kind === 'tar.gz' ? '-xzf' : '-xf', path, '-C', dest, '--no-same-owner', '--no-same-permissions', '--', ...members],
    options,
    'unpack',
  );
}

/** Runs the system tar with argv; resolves with stdout, rejects with a coded error quoting stderr. */
function runTar(args: string[], options: TarOptions, verb: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    let out = '';
    let err = '';
    let outBytes = 0;
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
      if (outBytes > MAX_LISTING_BYTES) fail(`its listing exceeds ${MAX_LISTING_BYTES} bytes`);
      else if (code === 0) resolve(out);
      else fail(`tar exited ${code ?? signal}: ${err.trim().split('\n').slice(0, 3).join('; ') || 'no message'}`);
    });
  });
}
