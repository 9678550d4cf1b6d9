/**
 * The simulated agents of one load-generator process. Each is a distinct enrolled host with its own
 * client certificate on its own wss socket: hello → welcome → facts, then one heartbeat per
 * interval at a random phase (a 10 ms timing wheel, not one timer per agent) and a health snapshot
 * every `healthEvery` heartbeats. Heartbeats carry a high-resolution `ts` that the server echoes
 * in its ack, so the round trip needs no per-heartbeat bookkeeping.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { type Backoff, createBackoff } from '../../agent/src/backoff.js';
import { LogHistogram } from './histogram.js';
import type { Identity } from './identities.js';
import type { ConnectSummary, WindowStats, WorkerConfig } from './ipc.js';
import { simFacts, simHealth } from './payloads.js';

/** Skip a heartbeat rather than queue it when the socket cannot drain (the real agent does the same). */
const MAX_BUFFERED_BYTES = 256 * 1024;
const WHEEL_TICK_MS = 10;
/** Reconnects per agent after the connect phase (a dropped socket comes back, but not forever). */
/** Bound on reconnects per agent over a whole run (a storm costs one or a few). */
const MAX_RECONNECTS = 100;

interface SimAgent {
  backoff: Backoff;
  index: number;
  identity: Identity;
  ws: WebSocket | null;
  welcomed: boolean;
  everWelcomed: boolean;
  attempts: number;
  reconnects: number;
  connectStartedAt: number;
  slot: number;
  healthPhase: number;
  beats: number;
  seq: number;
  lastError: string;
}

/** A clock in ms with sub-ms resolution, comparable only within this process. */
const hrNow = (): number => performance.timeOrigin + performance.now();

/** See the file comment. */
export class SimFleet {
  private readonly agents: SimAgent[];
  private readonly wheel: Array<Set<SimAgent>>;
  private readonly queue: Array<{ agent: SimAgent; notBefore: number }> = [];
  private inflight = 0;
  private connected = 0;
  private failed = 0;
  private attemptErrors = 0;
  private readonly connectMs = new LogHistogram();
  private readonly connectErrors: Record<string, number> = {};
  private firstConnectAt = 0;
  private lastWelcomeAt = 0;
  private onConnectPhaseDone: (() => void) | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private wheelTimer: NodeJS.Timeout | null = null;
  private wheelStart = 0;
  private wheelDone = -1;
  private stopping = false;
  // measurement window
  private windowStart = Number.POSITIVE_INFINITY;
  private windowEnd = Number.POSITIVE_INFINITY;
  private stats = SimFleet.emptyStats();

  constructor(
    private readonly config: WorkerConfig,
    identities: Identity[],
  ) {
    const slots = Math.max(1, Math.round(config.heartbeatIntervalMs / WHEEL_TICK_MS));
    this.wheel = Array.from({ length: slots }, () => new Set<SimAgent>());
    this.agents = identities.map((identity, i) => ({
      index: config.start + i,
      identity,
      ws: null,
      welcomed: false,
      everWelcomed: false,
      attempts: 0,
      reconnects: 0,
      connectStartedAt: 0,
      slot: Math.floor(Math.random() * slots),
      healthPhase: Math.floor(Math.random() * config.healthEvery),
      beats: 0,
      seq: 0,
      lastError: '',
      // The real agent's reconnect delays (decorrelated jitter, 0.5 s … 30 s), so a controller
      // restart produces the storm real agents make.
      backoff: createBackoff(),
    }));
  }

  private static emptyStats(): { rtt: LogHistogram } & Omit<WindowStats, 'rttMs' | 'openAtEnd'> {
    return {
      rtt: new LogHistogram(),
      heartbeatsSent: 0,
      acks: 0,
      healthSent: 0,
      skippedBackpressure: 0,
      disconnects: 0,
      reconnects: 0,
      errorsByReason: {},
      maxWheelLagMs: 0,
    };
  }

  /** Progress of the connect phase. */
  progress(): { connected: number; failed: number; inflight: number } {
    return { connected: this.connected, failed: this.failed, inflight: this.inflight };
  }

  /**
   * Connects every agent, paced at `connectRate`/s with at most `maxInflight` handshakes, and
   * resolves once each one is welcomed or has used its attempts (or `timeoutMs` passed).
   */
  async connectAll(timeoutMs: number): Promise<ConnectSummary> {
    const now = performance.now();
    this.firstConnectAt = now;
    for (const agent of this.agents) this.queue.push({ agent, notBefore: now });
    this.startConnectTicker();
    this.startWheel();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.onConnectPhaseDone = () => {
        clearTimeout(timer);
        resolve();
      };
      this.checkConnectPhaseDone();
    });
    this.onConnectPhaseDone = null;
    return {
      connected: this.connected,
      failed: this.agents.length - this.connected,
      attemptErrors: this.attemptErrors,
      connectMs: this.connectMs.toData(),
      wallMs: Math.round((this.lastWelcomeAt || performance.now()) - this.firstConnectAt),
      errorsByReason: { ...this.connectErrors },
    };
  }

  private checkConnectPhaseDone(): void {
    if (this.onConnectPhaseDone !== null && this.connected + this.failed >= this.agents.length) this.onConnectPhaseDone();
  }

  /** Starts counting: heartbeats sent from now on are measured. */
  measureStart(): void {
    this.stats = SimFleet.emptyStats();
    this.windowStart = hrNow();
    this.windowEnd = Number.POSITIVE_INFINITY;
  }

  /** Stops counting sends now, waits `graceMs` for their acks, and returns the window's figures. */
  async measureStop(graceMs: number): Promise<WindowStats> {
    this.windowEnd = hrNow();
    await new Promise((r) => setTimeout(r, graceMs));
    const { rtt, ...rest } = this.stats;
    this.windowStart = Number.POSITIVE_INFINITY;
    return { ...rest, rttMs: rtt.toData(), openAtEnd: this.agents.filter((a) => a.welcomed).length };
  }

  /** Closes every socket abruptly (no close handshake) and stops the timers. */
  shutdown(): void {
    this.stopping = true;
    if (this.connectTimer !== null) clearInterval(this.connectTimer);
    if (this.wheelTimer !== null) clearInterval(this.wheelTimer);
    for (const a of this.agents) a.ws?.terminate();
  }

  // ---- connecting ------------------------------------------------------------------------------

  private startConnectTicker(): void {
    let allowance = 0;
    let last = performance.now();
    const tickMs = 20;
    this.connectTimer = setInterval(() => {
      const now = performance.now();
      // At most a tenth of a second's worth at once: the point is to avoid a handshake burst.
      // Reconnects after the connect phase are paced by their backoff, at up to reconnectRate.
      const rate = this.onConnectPhaseDone === null && this.connected > 0 ? this.config.reconnectRate : this.config.connectRate;
      allowance = Math.min(allowance + (rate * (now - last)) / 1000, Math.max(1, rate / 10));
      last = now;
      let scanned = 0;
      while (allowance >= 1 && this.inflight < this.config.maxInflight && scanned < this.queue.length) {
        const head = this.queue[0];
        if (head === undefined) break;
        if (head.notBefore > now) {
          this.queue.push(this.queue.shift() ?? head);
          scanned += 1;
          continue;
        }
        this.queue.shift();
        allowance -= 1;
        this.open(head.agent);
      }
    }, tickMs);
  }

  private open(agent: SimAgent): void {
    if (this.stopping) return;
    agent.attempts += 1;
    agent.connectStartedAt = performance.now();
    agent.lastError = 'closed_before_welcome';
    this.inflight += 1;
    const ws = new WebSocket(this.config.url, {
      ca: this.config.caPem,
      cert: agent.identity.certPem,
      key: agent.identity.keyPem,
      localAddress: this.config.localAddress,
      perMessageDeflate: false,
      handshakeTimeout: this.config.connectTimeoutMs,
      maxPayload: 4 * 1024 * 1024,
    });
    agent.ws = ws;
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 'bench', sessionId: `bench-${agent.index}-${agent.attempts}` }));
    });
    ws.on('message', (data: Buffer) => this.onMessage(agent, data));
    ws.on('error', (err) => {
      agent.lastError = classify(err.message);
    });
    ws.on('close', (code) => this.onClose(agent, ws, code));
  }

  private onMessage(agent: SimAgent, data: Buffer): void {
    let msg: { type?: unknown; ts?: unknown; code?: unknown };
    try {
      msg = JSON.parse(data.toString('utf8')) as typeof msg;
    } catch {
      count(this.stats.errorsByReason, 'bad_frame');
      return;
    }
    if (msg.type === 'hb-ack') {
      const ts = typeof msg.ts === 'number' ? msg.ts : 0;
      if (ts >= this.windowStart && ts < this.windowEnd) {
        this.stats.rtt.record(hrNow() - ts);
        this.stats.acks += 1;
      }
    } else if (msg.type === 'welcome') {
      this.onWelcome(agent);
    } else if (msg.type === 'error') {
      count(this.stats.errorsByReason, String(msg.code));
    }
  }

  private onWelcome(agent: SimAgent): void {
    const ws = agent.ws;
    if (ws === null || agent.welcomed) return;
    this.inflight -= 1;
    agent.welcomed = true;
    agent.backoff.reset();
    const now = performance.now();
    if (!agent.everWelcomed) {
      agent.everWelcomed = true;
      this.connected += 1;
      this.connectMs.record(now - agent.connectStartedAt);
      this.lastWelcomeAt = now;
      this.checkConnectPhaseDone();
    }
    ws.send(JSON.stringify({ type: 'facts', facts: simFacts(agent.identity.name, agent.index) }));
    this.wheel[agent.slot]?.add(agent);
  }

  private onClose(agent: SimAgent, ws: WebSocket, code: number): void {
    if (agent.ws !== ws) return;
    agent.ws = null;
    if (this.stopping) return;
    if (agent.welcomed) {
      agent.welcomed = false;
      this.wheel[agent.slot]?.delete(agent);
      this.stats.disconnects += 1;
      count(this.stats.errorsByReason, `close_${code}`);
      if (agent.reconnects < MAX_RECONNECTS) {
        agent.reconnects += 1;
        this.stats.reconnects += 1;
        this.queue.push({ agent, notBefore: performance.now() + agent.backoff.next() });
      }
      return;
    }
    // Closed before welcome: a failed connect attempt.
    this.inflight -= 1;
    this.attemptErrors += 1;
    count(this.connectErrors, agent.lastError);
    if (agent.everWelcomed) {
      count(this.stats.errorsByReason, `reconnect_${agent.lastError}`);
      if (agent.reconnects < MAX_RECONNECTS) {
        agent.reconnects += 1;
        this.queue.push({ agent, notBefore: performance.now() + agent.backoff.next() });
      }
    } else if (agent.attempts < this.config.maxConnectAttempts) {
      this.queue.push({ agent, notBefore: performance.now() + 500 + Math.random() * 1500 });
    } else {
      this.failed += 1;
      this.checkConnectPhaseDone();
    }
  }

  // ---- heartbeats ------------------------------------------------------------------------------

  private startWheel(): void {
    this.wheelStart = performance.now();
    this.wheelDone = -1;
    this.wheelTimer = setInterval(() => this.turnWheel(), WHEEL_TICK_MS);
  }

  /** Runs every slot that is due (catching up after a late tick, at most one full turn). */
  private turnWheel(): void {
    const now = performance.now();
    const due = Math.floor((now - this.wheelStart) / WHEEL_TICK_MS);
    const from = Math.max(this.wheelDone + 1, due - this.wheel.length + 1);
    const lag = now - (this.wheelStart + (this.wheelDone + 1) * WHEEL_TICK_MS);
    if (this.windowStart !== Number.POSITIVE_INFINITY && lag > this.stats.maxWheelLagMs) this.stats.maxWheelLagMs = Math.round(lag);
    for (let s = from; s <= due; s++) {
      const slot = this.wheel[s % this.wheel.length];
      if (slot !== undefined) for (const agent of slot) this.beat(agent);
    }
    this.wheelDone = due;
  }

  private beat(agent: SimAgent): void {
    const ws = agent.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return;
    const measuring = this.windowEnd === Number.POSITIVE_INFINITY && this.windowStart !== Number.POSITIVE_INFINITY;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      if (measuring) this.stats.skippedBackpressure += 1;
      return;
    }
    agent.seq += 1;
    ws.send(`{"type":"hb","seq":${agent.seq},"ts":${hrNow()}}`);
    if (measuring) this.stats.heartbeatsSent += 1;
    agent.beats += 1;
    if (agent.beats % this.config.healthEvery === agent.healthPhase) {
      ws.send(JSON.stringify({ type: 'health', health: simHealth(Date.now()) }));
      if (measuring) this.stats.healthSent += 1;
    }
  }
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Groups socket errors into a few reasons (the message minus addresses and numbers). */
function classify(message: string): string {
  if (/handshake has timed out/i.test(message)) return 'handshake_timeout';
  const status = /Unexpected server response: (\d+)/.exec(message);
  if (status !== null) return `http_${status[1]}`;
  if (/ECONNRESET/.test(message)) return 'econnreset';
  if (/ECONNREFUSED/.test(message)) return 'econnrefused';
  if (/EADDRNOTAVAIL/.test(message)) return 'eaddrnotavail';
  if (/EMFILE/.test(message)) return 'emfile';
  if (/socket hang up/i.test(message)) return 'socket_hang_up';
  return message.replace(/[\d.:]+/g, '#').slice(0, 60);
}
