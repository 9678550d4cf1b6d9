/**
 * Upload slots for snapshots streamed by agents. Before asking an agent for a snapshot the
 * service opens a slot: a random single-use id bound to that one host, a size bound and an
 * expiry. The agent PUTs the database to /v1/agent/etcd-snapshots/:id with its mTLS identity; the
 * route hands the stream here, which hashes and meters it on its way into the slot's sink — the
 * snapshot sealer (sealed-v2.ts), so the database is encrypted as it arrives and never lies on the
 * controller's disk in plaintext — and refuses a wrong host, a second upload, an expired slot or
 * more bytes than the bound (discarding what the sink got).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BallastError, messageOf } from '../../../shared/src/errors.js';

/** What arrived in a slot: the sha256 and size of the bytes that went into its sink. */
export interface ReceivedUpload {
  sha256: string;
  size: number;
}

/** Where a slot's bytes go (a port): a Writable made when the upload starts, and how to drop what it got. */
export interface UploadSink {
  writable(): Writable;
  discard(): Promise<void>;
}

/** A sink writing a private (0600) file at `path` (which must not exist yet). */
export function fileSink(path: string): UploadSink {
  return { writable: () => createWriteStream(path, { mode: 0o600, flags: 'wx' }), discard: () => rm(path, { force: true }) };
}

interface Slot {
  host: string;
  maxBytes: number;
  sink: UploadSink;
  expiresAt: number;
  used: boolean;
  received: ReceivedUpload | null;
}

/** See the file comment. */
export class UploadSlots {
  readonly #slots = new Map<string, Slot>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Opens a slot for `host`, writing into `sink`; close it with {@link close} when done. */
  open(opts: { host: string; maxBytes: number; sink: UploadSink; ttlMs: number }): string {
    const id = randomBytes(18).toString('base64url');
    this.#slots.set(id, { host: opts.host, maxBytes: opts.maxBytes, sink: opts.sink, expiresAt: this.#now() + opts.ttlMs, used: false, received: null });
    return id;
  }

  /** What the slot received, or null. */
  received(id: string): ReceivedUpload | null {
    return this.#slots.get(id)?.received ?? null;
  }

  /** Forgets the slot (what its sink got is the caller's to keep or discard). */
  close(id: string): void {
    this.#slots.delete(id);
  }

  /** Streams `body` into the slot; for the upload route. */
  async receive(id: string, host: string, body: NodeJS.ReadableStream, declaredBytes: number | null): Promise<ReceivedUpload> {
    const slot = this.#slots.get(id);
    // One answer for unknown, foreign and expired slots: a host learns nothing about others' uploads.
    if (slot === undefined || slot.host !== host || slot.expiresAt < this.#now()) {
      throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to accept the snapshot upload: no open upload slot ${id} for host ${host}`);
    }
    if (slot.used) throw new BallastError('BALLAST_ERR_VALIDATION', `failed to accept the snapshot upload: slot ${id} was already used`);
    if (declaredBytes !== null && declaredBytes > slot.maxBytes) {
      throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to accept the snapshot upload: ${declaredBytes} bytes is more than the ${slot.maxBytes} allowed`);
    }
    slot.used = true;
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > slot.maxBytes) return done(new BallastError('BALLAST_ERR_TOO_LARGE', `failed to accept the snapshot upload: more than the ${slot.maxBytes} bytes allowed`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, slot.sink.writable());
    } catch (err) {
      await slot.sink.discard();
      if (err instanceof BallastError) throw err;
      throw new BallastError('BALLAST_ERR_IO', `failed to accept the snapshot upload: ${messageOf(err)}`, { cause: err });
    }
    slot.received = { sha256: hash.digest('hex'), size };
    return slot.received;
  }
}
