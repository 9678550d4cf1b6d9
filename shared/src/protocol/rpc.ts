import { BallastError, type ErrorBody } from '../errors.js';
import type { Response } from './messages.js';

/** Something that can cancel and schedule timers; injected so deadline logic is testable. */
export interface TimerPort {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: TimerPort = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Pending {
  resolve(result: unknown): void;
  reject(err: BallastError): void;
  timer: unknown;
  type: string;
}

/**
 * Tracks requests sent over one connection until their response or deadline. Each request has an id
 * and a relative timeout; the caller's promise settles exactly once: with the result, a coded error
 * from the peer, `BALLAST_ERR_DEADLINE_EXCEEDED`, or `BALLAST_ERR_PEER_GONE` when the socket closes.
 */
export class RequestTracker {
  private readonly pending = new Map<string, Pending>();
  private counter = 0;

  constructor(
    private readonly prefix: string,
    private readonly timers: TimerPort = realTimers,
  ) {}

  /** A fresh request id, unique for this tracker. */
  nextId(): string {
    this.counter += 1;
    return `${this.prefix}-${this.counter}`;
  }

  /** Registers a request; `send` is called synchronously and must put the frame on the wire. */
  start(options: { id: string; type: string; timeoutMs: number; send: () => void }): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(options.id);
        reject(
          new BallastError(
            'BALLAST_ERR_DEADLINE_EXCEEDED',
            `failed to complete ${options.type} request ${options.id}: no answer within ${options.timeoutMs} ms`,
          ),
        );
      }, options.timeoutMs);
      this.pending.set(options.id, { resolve, reject, timer, type: options.type });
      try {
        options.send();
      } catch (err) {
        this.settle(options.id)?.reject(
          new BallastError('BALLAST_ERR_PEER_GONE', `failed to send ${options.type} request: ${String(err)}`, {
            cause: err,
          }),
        );
      }
    });
  }

  /** Delivers a response frame. Returns false when no request with that id is waiting (late or bogus). */
  complete(response: Response): boolean {
    const entry = this.settle(response.id);
    if (entry === undefined) return false;
    if (response.ok) {
      entry.resolve(response.result);
    } else {
      const body: ErrorBody = (response.error as ErrorBody | undefined) ?? {
        code: 'BALLAST_ERR_INTERNAL',
        message: 'peer reported failure without an error body',
      };
      entry.reject(new BallastError(body.code, `${entry.type} failed on peer: ${body.message}`));
    }
    return true;
  }

  /** Fails every waiting request, e.g. when the connection closes. */
  failAll(why: string): void {
    for (const id of [...this.pending.keys()]) {
      const entry = this.settle(id);
      entry?.reject(new BallastError('BALLAST_ERR_PEER_GONE', `failed to complete ${entry.type} request ${id}: ${why}`));
    }
  }

  /** Number of requests waiting for an answer. */
  get size(): number {
    return this.pending.size;
  }

  private settle(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    if (entry === undefined) return undefined;
    this.pending.delete(id);
    this.timers.clearTimeout(entry.timer);
    return entry;
  }
}
