/**
 * A pass-through that counts and hashes what streams through it and fails with
 * BALLAST_ERR_TOO_LARGE once more than `maxBytes` went by: the bound is enforced on the bytes that
 * arrive, whatever a Content-Length promised.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BallastError } from '../../../shared/src/errors.js';

/** See the file comment. */
export class BoundedBytes extends Transform {
  /** Bytes passed so far. */
  bytes = 0;
  readonly #hash = createHash('sha256');
  readonly #max: number;
  readonly #what: string;

  /** `what` completes "failed to <what>: …". */
  constructor(maxBytes: number, what: string) {
    super();
    this.#max = maxBytes;
    this.#what = what;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#max) {
      done(new BallastError('BALLAST_ERR_TOO_LARGE', `failed to ${this.#what}: more than the ${this.#max} bytes allowed`));
      return;
    }
    this.#hash.update(chunk);
    done(null, chunk);
  }

  /** sha256 (hex) of everything passed; call once, after the stream ended. */
  digest(): string {
    return this.#hash.digest('hex');
  }
}

/** A {@link BoundedBytes}. */
export function boundedBytes(maxBytes: number, what: string): BoundedBytes {
  return new BoundedBytes(maxBytes, what);
}
