/**
 * Streaming sha256, in one place: the artifact mirror and the agent's `artifact` module hash what
 * they download while it streams (k0s downloader.go: hash while streaming, decide after), and the
 * package index hashes the .deb files it serves. A file or upload is never read into memory whole.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Options of {@link Sha256Meter}. */
export interface Sha256MeterOptions {
  /** Fail the stream once more than this many bytes passed (default: no bound). */
  maxBytes?: number;
  /** The error to fail with when `maxBytes` is exceeded; the caller knows what the stream is. */
  tooLarge?: (maxBytes: number) => Error;
}

/**
 * A pass-through stream that hashes (sha256) and counts the bytes flowing through it, and can
 * refuse a stream past a size bound before the oversized chunk reaches the sink. Read
 * {@link Sha256Meter.hex} and {@link Sha256Meter.size} once the pipeline has finished.
 */
export class Sha256Meter extends Transform {
  #size = 0;
  readonly #hash: Hash = createHash('sha256');
  readonly #max: number;
  readonly #tooLarge: (maxBytes: number) => Error;

  constructor(options: Sha256MeterOptions = {}) {
    super();
    this.#max = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#tooLarge = options.tooLarge ?? ((max) => new RangeError(`stream is larger than the limit of ${max} bytes`));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#max) {
      done(this.#tooLarge(this.#max));
      return;
    }
    this.#hash.update(chunk);
    done(null, chunk);
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** The sha256 of everything that passed, lower-case hex. Call once, after the stream ended. */
  hex(): string {
    return this.#hash.digest('hex');
  }
}

/** sha256 (lower-case hex) of a file's content, streamed. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  // A Hash is itself a writable stream: no meter needed when nothing passes on.
  await pipeline(createReadStream(path), hash, ...(signal === undefined ? [] : [{ signal }]));
  return hash.digest('hex');
}
