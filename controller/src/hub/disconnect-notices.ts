/**
 * Holds a host's `disconnected` event back for a short grace, so that a connection that drops and
 * comes straight back — a healed partition, where the agent's own silence detection closed the old
 * socket — is one `connected` event saying what happened ("reconnected 480 ms after its previous
 * connection dropped (code 1006)") instead of a confusing disconnected/connected pair (issue 17).
 * A host that does not come back within the grace gets its `disconnected` event then, naming the
 * time it dropped. Liveness is unaffected: the host state machine (host-tracker.ts) never waited on
 * these events. `flush()` writes whatever is pending (at shutdown, while the store is still open).
 */
import type { EventKind } from '../../../shared/src/events.js';

/** The event sink (the session store's `event`). */
export type NoticeSink = (e: { host: string; kind: EventKind; message: string; data?: Record<string, unknown> }) => void;

/** What a reconnect learns about the connection that dropped before it. */
export interface DroppedConnection {
  code: number;
  reason: string;
  /** How long the host was without a connection. */
  downMs: number;
}

interface Pending extends Omit<DroppedConnection, 'downMs'> {
  at: number;
  timer: NodeJS.Timeout;
}

/** Options of {@link DisconnectNotices}. */
export interface DisconnectNoticesOptions {
  /** How long a `disconnected` event waits for the host to come back (agents retry from 0.5 s). */
  graceMs: number;
  now: () => number;
  sink: NoticeSink;
}

/** Pending `disconnected` events by host name. */
export class DisconnectNotices {
  readonly #pending = new Map<string, Pending>();

  constructor(private readonly opts: DisconnectNoticesOptions) {}

  /** The current connection of `host` closed: its event is written after the grace unless it comes back. */
  dropped(host: string, code: number, reason: string): void {
    this.#cancel(host);
    const at = this.opts.now();
    const timer = setTimeout(() => this.#write(host), this.opts.graceMs);
    timer.unref();
    this.#pending.set(host, { code, reason, at, timer });
  }

  /** `host` connected again: the pending `disconnected` event is dropped and what it said is returned. */
  reconnected(host: string): DroppedConnection | null {
    const p = this.#pending.get(host);
    if (p === undefined) return null;
    this.#cancel(host);
    return { code: p.code, reason: p.reason, downMs: Math.max(0, this.opts.now() - p.at) };
  }

  /** Writes every pending event now. */
  flush(): void {
    for (const host of [...this.#pending.keys()]) this.#write(host);
  }

  #write(host: string): void {
    const p = this.#pending.get(host);
    if (p === undefined) return;
    this.#cancel(host);
    this.opts.sink({
      host,
      kind: 'disconnected',
      message: `agent disconnected (${describeClose(p.code, p.reason)}) at ${new Date(p.at).toISOString()}`,
      data: { code: p.code, at: p.at },
    });
  }

  #cancel(host: string): void {
    const p = this.#pending.get(host);
    if (p !== undefined) clearTimeout(p.timer);
    this.#pending.delete(host);
  }
}

/** `code 1006` or `code 1001: controller shutting down`, as the events have always said it. */
export function describeClose(code: number, reason: string): string {
  return `code ${code}${reason ? `: ${reason}` : ''}`;
}
