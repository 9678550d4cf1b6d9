/**
 * Typed host events: what happened to an enrolled host, told to subscribers (VIP service, metrics,
 * the event log …) after it was committed. They replace callbacks wired inside the store's writes,
 * so a subscriber can neither roll a write back nor slow a transaction down.
 *
 * This module is the bottom of the fleet layer: the tracker (hub/) and the directory (fleet/) emit
 * through it, so it imports neither.
 */
import type { HostState } from '../../../shared/src/api.js';
import type { Health } from '../../../shared/src/protocol/facts.js';

/** Who an event is about: events carry both, since logs name hosts and maps key them by id. */
export interface HostRef {
  readonly id: string;
  readonly name: string;
}

/**
 * Every host event, one literal `type` each (STYLE.md §6). Order for one host is the order things
 * happened; a state change a disconnect causes comes before the `host.disconnected`, as in the
 * event log.
 */
export type HostEvent =
  /** Enrolled (the host row committed); the host starts `pending`. */
  | { readonly type: 'host.enrolled'; readonly host: HostRef; readonly at: number }
  /** An agent said hello and its connection (address, version, session) is stored. */
  | {
      readonly type: 'host.connected';
      readonly host: HostRef;
      readonly sessionId: string;
      readonly address: string | null;
      readonly agentVersion: string;
    }
  /**
   * The host's current session closed. Not sent for a session a newer one replaced (the host stayed
   * connected), and it does not change the state by itself (README "Host states").
   */
  | { readonly type: 'host.disconnected'; readonly host: HostRef; readonly sessionId: string }
  /** The state machine moved the host; the new state and its time are stored. */
  | {
      readonly type: 'host.state-changed';
      readonly host: HostRef;
      readonly from: HostState;
      readonly to: HostState;
      readonly at: number;
      readonly reason: string;
    }
  /**
   * A health snapshot arrived; stored with its history row when its checks changed or the stored
   * one is older than a minute (report-memo.ts), so a subscriber sees every snapshot.
   */
  | { readonly type: 'host.health'; readonly host: HostRef; readonly health: Health; readonly at: number }
  /** Removed (its certificate revoked); its session, if any, is being closed. */
  | { readonly type: 'host.removed'; readonly host: HostRef };

/** The literal type names. */
export type HostEventType = HostEvent['type'];

/** The event of type `K`. */
export type HostEventOf<K extends HostEventType> = Extract<HostEvent, { type: K }>;

/** A subscriber of one event type. */
export type HostEventListener<K extends HostEventType> = (event: HostEventOf<K>) => void;

/** Where subscribers subscribe. */
export interface HostEventSource {
  /** Calls `listener` for every later event of `type`, synchronously; returns the unsubscribe. */
  on<K extends HostEventType>(type: K, listener: HostEventListener<K>): () => void;
}

/** Where emitters (the tracker, the directory) send events, once their change is committed. */
export interface HostEventSink {
  emit(event: HostEvent): void;
}

/** Options of {@link HostEventBus}. */
export interface HostEventBusOptions {
  /**
   * Receives what a listener threw. The change it was told about is committed, so the emitter and
   * the other listeners carry on. By default it is rethrown from a microtask, so a bug stays loud.
   */
  onListenerError?: (err: unknown, event: HostEvent) => void;
}

/** Synchronous, in-process delivery in subscription order. */
export class HostEventBus implements HostEventSource, HostEventSink {
  // Keyed by type; the listener types are checked at `on`, so the map may hold the widest one.
  readonly #listeners = new Map<HostEventType, Set<(event: HostEvent) => void>>();
  readonly #onListenerError: (err: unknown, event: HostEvent) => void;

  constructor(options: HostEventBusOptions = {}) {
    this.#onListenerError =
      options.onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
  }

  on<K extends HostEventType>(type: K, listener: HostEventListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    // Only events of type K are ever delivered to this set (see emit).
    const wide = listener as (event: HostEvent) => void;
    set.add(wide);
    const listeners = set;
    return () => {
      listeners.delete(wide);
    };
  }

  emit(event: HostEvent): void {
    const set = this.#listeners.get(event.type);
    if (set === undefined) return;
    // Copy: a listener may unsubscribe itself while being called.
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (err) {
        this.#onListenerError(err, event);
      }
    }
  }

  /** Number of listeners of `type` (for tests and leak checks). */
  listenerCount(type: HostEventType): number {
    return this.#listeners.get(type)?.size ?? 0;
  }
}
