/** Messages between the fan-in orchestrator and its load-generator workers (node IPC channel). */
import type { HistogramData } from './histogram.js';

/** What one worker simulates. */
export interface WorkerConfig {
  /** Worker index (for names in progress lines). */
  index: number;
  /** wss:// URL of the agent endpoint. */
  url: string;
  caPem: string;
  identitiesPath: string;
  /** This worker's slice of identities.jsonl: [start, end). */
  start: number;
  end: number;
  /** Local address to connect from (spreads ephemeral ports over several loopback IPs). */
  localAddress: string;
  /** New connections per second this worker starts (stagger). */
  connectRate: number;
  /** Reconnects per second at most once connected (a storm after a controller restart). */
  reconnectRate: number;
  /** Handshakes in flight at most. */
  maxInflight: number;
  connectTimeoutMs: number;
  /** Attempts per agent during the connect phase. */
  maxConnectAttempts: number;
  heartbeatIntervalMs: number;
  /** A health snapshot every this many heartbeats. */
  healthEvery: number;
}

/** Connect-phase outcome of one worker. */
export interface ConnectSummary {
  connected: number;
  failed: number;
  /** Attempts that failed and were retried or given up. */
  attemptErrors: number;
  /** Connect start → welcome, per agent, ms. */
  connectMs: HistogramData;
  /** First connect started → last agent welcomed, ms. */
  wallMs: number;
  errorsByReason: Record<string, number>;
}

/** Measurement-window figures of one worker. */
export interface WindowStats {
  heartbeatsSent: number;
  /** Acks received for heartbeats sent inside the window. */
  acks: number;
  healthSent: number;
  /** Heartbeats not sent because the socket was backed up (like the real agent). */
  skippedBackpressure: number;
  rttMs: HistogramData;
  disconnects: number;
  reconnects: number;
  errorsByReason: Record<string, number>;
  /** Agents with a welcomed socket at the end of the window. */
  openAtEnd: number;
  /** Worst timer lateness of the heartbeat wheel (ms): the load generator's own lag. */
  maxWheelLagMs: number;
}

/** Orchestrator → worker. */
export type ToWorker =
  | { type: 'init'; config: WorkerConfig }
  | { type: 'measure-start' }
  | { type: 'measure-stop'; graceMs: number }
  | { type: 'shutdown' };

/** Worker → orchestrator. */
export type FromWorker =
  | { type: 'progress'; index: number; connected: number; failed: number; inflight: number }
  | { type: 'connected'; index: number; summary: ConnectSummary }
  | { type: 'stats'; index: number; stats: WindowStats }
  | { type: 'fatal'; index: number; message: string };

const TO_WORKER = new Set(['init', 'measure-start', 'measure-stop', 'shutdown']);
const FROM_WORKER = new Set(['progress', 'connected', 'stats', 'fatal']);

function hasType(value: unknown, types: Set<string>): boolean {
  return typeof value === 'object' && value !== null && types.has(String((value as { type?: unknown }).type));
}

/** Narrows an IPC message (both ends are ours: a type check on `type` is enough). */
export function isToWorker(value: unknown): value is ToWorker {
  return hasType(value, TO_WORKER);
}

/** Narrows an IPC message from a worker. */
export function isFromWorker(value: unknown): value is FromWorker {
  return hasType(value, FROM_WORKER);
}

/** Adds counts of `b` into `a`. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): void {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
}
