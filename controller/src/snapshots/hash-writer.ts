/**
 * The second half of opening a sealed snapshot, on a second thread: the sha256 of the decrypted
 * database and its write to disk run in a worker while the main thread reads and decrypts the next
 * segment (sealed-v2.ts). Decrypting and hashing a 1 GB database one after the other is most of a
 * restore's overhead over `etcdutl snapshot restore`; side by side they take the longer of the two.
 *
 * Only segments whose GCM tag was already checked are handed over, and the caller compares the
 * resulting sha256 with the record before anything reaches etcdutl. Workers are kept (unref'd, at
 * most {@link MAX_IDLE}) so an open does not pay a thread start; each runs one job at a time.
 * The worker's code is a fixed string (no file to resolve in dist/ or under vitest).
 */
import { Worker } from 'node:worker_threads';
import { BallastError } from '../../../shared/src/errors.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
let job = null;
parentPort.on('message', (m) => {
  try {
    if (m.type === 'open') {
      job = { fd: m.path === null ? null : fs.openSync(m.path, 'w', 0o600), hash: createHash('sha256'), size: 0 };
    } else if (m.type === 'data') {
      const b = Buffer.from(m.buf);
      job.hash.update(b);
      job.size += b.length;
      if (job.fd !== null) for (let off = 0; off < b.length; ) off += fs.writeSync(job.fd, b, off);
      parentPort.postMessage({ type: 'ack' });
    } else if (m.type === 'end') {
      if (job.fd !== null) fs.closeSync(job.fd);
      parentPort.postMessage({ type: 'done', sha256: job.hash.digest('hex'), size: job.size });
      job = null;
    }
  } catch (err) {
    if (job !== null && job.fd !== null) { try { fs.closeSync(job.fd); } catch {} }
    job = null;
    parentPort.postMessage({ type: 'error', message: String(err && err.message || err) });
  }
});`;

/** Idle workers kept for the next open. */
const MAX_IDLE = 2;
/** Segments handed over but not yet written: bounds the memory a fast decryptor can queue. */
const MAX_IN_FLIGHT = 8;
const idle: Worker[] = [];

type Reply = { type: 'ack' } | { type: 'done'; sha256: string; size: number } | { type: 'error'; message: string };

/** One job: hand decrypted segments over with {@link push}, then {@link finish}. */
export class HashWriter {
  readonly #worker: Worker;
  #inFlight = 0;
  #failed: Error | null = null;
  #wake: (() => void) | null = null;
  #done: ((r: { sha256: string; size: number }) => void) | null = null;
  #reject: ((err: Error) => void) | null = null;
  #released = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', this.#onMessage);
    worker.on('error', this.#onError);
  }

  /** Starts a job writing to `path` (0600, truncated) or only hashing when `path` is null. */
  static start(path: string | null): HashWriter {
    const worker = idle.pop() ?? new Worker(WORKER_SOURCE, { eval: true });
    worker.ref();
    const w = new HashWriter(worker);
    worker.postMessage({ type: 'open', path });
    return w;
  }

  /** Hands one segment over (its memory is moved, not copied); waits while too many are queued. */
  async push(buf: Buffer): Promise<void> {
    this.#check();
    while (this.#inFlight >= MAX_IN_FLIGHT) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#check();
    }
    this.#inFlight += 1;
    // A Buffer from the cipher owns its whole ArrayBuffer: transfer it. Otherwise copy the view.
    const whole = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer;
    const ab = whole ? (buf.buffer as ArrayBuffer) : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    this.#worker.postMessage({ type: 'data', buf: ab }, [ab as ArrayBuffer]);
  }

  /** Closes the file; resolves with the sha256 and size of everything pushed. */
  async finish(): Promise<{ sha256: string; size: number }> {
    this.#check();
    const result = await new Promise<{ sha256: string; size: number }>((resolve, reject) => {
      this.#done = resolve;
      this.#reject = reject;
      this.#worker.postMessage({ type: 'end' });
    }).catch(async (err: unknown) => {
      await this.abort();
      throw new BallastError('BALLAST_ERR_IO', `failed to write the decrypted snapshot: ${(err as Error).message}`, { cause: err });
    });
    this.#release();
    return result;
  }

  /** Abandons the job (after a failure elsewhere): the worker is stopped, not reused. */
  async abort(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#detach();
    await this.#worker.terminate();
  }

  #check(): void {
    if (this.#failed !== null) throw new BallastError('BALLAST_ERR_IO', `failed to write the decrypted snapshot: ${this.#failed.message}`, { cause: this.#failed });
  }

  readonly #onMessage = (m: Reply): void => {
    if (m.type === 'ack') this.#inFlight -= 1;
    else if (m.type === 'done') this.#done?.({ sha256: m.sha256, size: m.size });
    else this.#fail(new Error(m.message));
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  };

  readonly #onError = (err: Error): void => {
    this.#fail(err);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  };

  #fail(err: Error): void {
    this.#failed = err;
    this.#reject?.(err);
  }

  #detach(): void {
    this.#worker.off('message', this.#onMessage);
    this.#worker.off('error', this.#onError);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#detach();
    if (idle.length < MAX_IDLE) {
      this.#worker.unref();
      idle.push(this.#worker);
    } else {
      void this.#worker.terminate();
    }
  }
}
