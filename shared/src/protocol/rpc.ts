import { BallastError, isErrorCode } from '../errors.js';
import type { ControllerRequest, Response } from './messages.js';
import { invalidResponse, isResponseTo, type ResponseOf } from './responses.js';

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
  /** Validates the result against the request's reply schema, then resolves (or rejects: invalid). */
  accept(result: unknown): void;
  reject(err: BallastError): void;
  timer: unknown;
  type: string;
}

/**
 * Tracks requests sent over one connection until their response or deadline. Each request has an id
 * and a relative timeout; the caller's promise settles exactly once: with the result, validated here
 * and only here against {@link ResponseOf} the request (responses.ts), a coded error from the peer,
 * `BALLAST_ERR_FRAME_INVALID` for a result that does not match, `BALLAST_ERR_DEADLINE_EXCEEDED`, or
 * `BALLAST_ERR_PEER_GONE` when the socket closes.
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

  /**
   * Registers a request: its frame's fields (the reply is checked against its `type` and `action`)
   * plus `send`, which is called synchronously and must put the frame on the wire.
   */
  start<R extends ControllerRequest>(options: R & { send: () => void }): Promise<ResponseOf<R>> {
    return new Promise<ResponseOf<R>>((resolve, reject) => {
      const { id, type, timeoutMs } = options;
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(id);
        reject(new BallastError('BALLAST_ERR_DEADLINE_EXCEEDED', `failed to complete ${type} request ${id}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const accept = (result: unknown): void => {
        if (isResponseTo<R>(options, result)) resolve(result);
        else reject(invalidResponse(options, result));
      };
      this.pending.set(options.id, { accept, reject, timer, type: options.type });
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
      entry.accept(response.result);
    } else {
      entry.reject(peerError(entry.type, response.error));
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

/** The coded error for a peer's `ok: false` answer. */
function peerError(type: string, error: Response['error']): BallastError {
  if (error === undefined) return new BallastError('BALLAST_ERR_INTERNAL', `${type} failed on peer: peer reported failure without an error body`);
  const { code, message } = error;
  if (isErrorCode(code)) return new BallastError(code, `${type} failed on peer: ${message}`);
  // The frame schema checks only a code's form: one this build does not know (a newer peer's) stays
  // in the message under INTERNAL instead of passing for an ErrorCode it is not.
  return new BallastError('BALLAST_ERR_INTERNAL', `${type} failed on peer: ${code}: ${message}`);
}
