import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { BallastError, type ErrorBody, messageOf } from '../../shared/src/errors.js';
import type { AgentEventKind } from '../../shared/src/events.js';
import { controllerFrameDecoder, encodeFrame } from '../../shared/src/protocol/codec.js';
import type { Facts, Health } from '../../shared/src/protocol/facts.js';
import { AGENT_WS_PATH, HARD_MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../shared/src/protocol/limits.js';
import type {
  AgentMessage,
  ControllerMessage,
  ControllerRequest,
} from '../../shared/src/protocol/messages.js';
import type { Backoff } from './backoff.js';
import type { RunPort } from './tasks/engine.js';
import type { ClockOffsetEstimator } from './clock.js';
import type { AgentCredentials } from './config.js';
import type { ResponseOf } from '../../shared/src/protocol/responses.js';
import { answerVipRequest, type VipPort } from './vip/requests.js';
import { VIP_FEATURE } from '../../shared/src/protocol/vip.js';
import { ETCD_FEATURE } from '../../shared/src/protocol/etcd.js';
import { answerEtcdRequest, type EtcdMaintenancePort } from './etcd/maintenance.js';

/** Where the session is; reported to systemd (STATUS=) and the log. */
export type SessionState = 'connecting' | 'connected' | 'waiting' | 'stopped';

/** Options of {@link ControllerSession}. */
export interface ControllerSessionOptions {
  creds: AgentCredentials;
  log: Logger;
  agentVersion: string;
  backoff: Backoff;
  clock: ClockOffsetEstimator;
  collectFacts: () => Promise<Facts>;
  collectHealth: () => Promise<Health>;
  healthChanged: (previous: Health, next: Health) => boolean;
  /**
   * Runs after each run and before its answer: brings up to date what the run may have changed
   * for the health checks (the supervisor forgets the components a reset removed). Then the health
   * is checked and, when changed, sent before the answer — so the controller never finishes an
   * operation on a stale snapshot (a removed worker showed `degraded: component:kubelet` for up to
   * a check interval after its reset, and a `node add` right after was refused).
   */
  afterRun?: () => Promise<void>;
  onState?: (state: SessionState, detail: string) => void;
  /** Tear the socket down when nothing arrives from the controller for this long (half-open TCP). */
  silenceTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** How often local checks run; a snapshot is sent when they change or healthInterval elapses. */
  healthCheckEveryMs?: number;
  /** Runs task runs (the task engine). Absent: runs are refused with BALLAST_ERR_UNSUPPORTED. */
  runner?: RunPort;
  /** Answers `req.vip` (the VIP manager). Absent: not advertised in hello, refused with BALLAST_ERR_UNSUPPORTED. */
  vip?: VipPort;
  /** Answers `req.etcd` (snapshot, status, defrag of the local member). Absent: not advertised, refused. */
  etcd?: EtcdMaintenancePort;
  /** The controller refused us with BALLAST_ERR_HOST_TAKEN_OUT (replaced or removed): stand down (stand-down.ts). */
  onTakenOut?: (message: string) => void;
}

/** Lets other agent parts (components) put events in the controller's event log. */
export interface EventSender {
  sendEvent(kind: AgentEventKind, message: string, data?: Record<string, unknown>): void;
}

/** A connection that stayed up this long resets the reconnect backoff. */
const STABLE_AFTER_MS = 10_000;

/** Skip a heartbeat rather than queue it when the socket cannot drain (the controller is slow). */
const MAX_BUFFERED_BYTES = 256 * 1024;

/**
 * The agent's one connection to the controller: mTLS websocket, hello → welcome, heartbeats, facts
 * at connect, health on change and at least every health interval, answers to requests, and
 * reconnection with jittered backoff. Nothing here is needed for the host's own components to keep
 * running: the controller is never in the data path.
 */
export class ControllerSession implements EventSender {
  private readonly log: Logger;
  private readonly decoder = controllerFrameDecoder();
  private readonly sessionId = randomUUID();
  private ws: WebSocket | null = null;
  private stopped = false;
  private seq = 0;
  private lastReceivedAt = 0;
  private lastHealth: Health | null = null;
  private lastHealthSentAt = 0;
  private healthIntervalMs = 15_000;
  private timers: NodeJS.Timeout[] = [];
  private lastContactMono: number | null = null;
  private state: SessionState = 'connecting';
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ControllerSessionOptions) {
    this.log = opts.log.child({ component: 'session' });
  }

  /** Starts connecting; returns at once. */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Closes the connection for good (agent shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.clearTimers();
    const ws = this.ws;
    if (ws === null || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      ws.close(1000, 'agent shutting down');
    });
    this.setState('stopped', 'agent stopped');
  }

  private connect(): void {
    const url = `${this.opts.creds.config.server.replace(/^https:/, 'wss:')}${AGENT_WS_PATH}`;
    this.setState('connecting', url);
    const ws = new WebSocket(url, {
      ca: this.opts.creds.caPem,
      cert: this.opts.creds.certPem,
      key: this.opts.creds.keyPem,
      maxPayload: HARD_MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000,
    });
    this.ws = ws;
    ws.on('unexpected-response', (req, res) => this.onRefused(req, res));
    ws.on('open', () => {
      this.lastReceivedAt = Date.now();
      // Features name the request families added after protocol v1 that this agent answers.
      const features = [...(this.opts.vip === undefined ? [] : [VIP_FEATURE]), ...(this.opts.etcd === undefined ? [] : [ETCD_FEATURE])];
      this.sendMessage({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: this.opts.agentVersion, sessionId: this.sessionId, features });
    });
    ws.on('message', (data, isBinary) => {
      this.lastReceivedAt = Date.now();
      if (isBinary) {
        this.sendError({ code: 'BALLAST_ERR_FRAME_MALFORMED', message: 'binary frames are not accepted' });
        return;
      }
      const decoded = this.decoder.decode(data as Buffer);
      if (!decoded.ok) {
        this.log.warn({ code: decoded.error.code, reason: decoded.error.message }, 'rejected a controller frame');
        this.sendError(decoded.error);
        return;
      }
      this.lastContactMono = performance.now();
      this.onMessage(decoded.message);
    });
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onRefused(req: { destroy(): void }, res: IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 16_384) chunks.push(c);
    });
    res.on('end', () => {
      let body: Partial<ErrorBody> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<ErrorBody>;
      } catch {
        // not a coded refusal: report the status alone
      }
      this.log.error(
        { status: res.statusCode, code: body.code, server: this.opts.creds.config.server },
        `controller refused the connection: ${body.message ?? `HTTP ${res.statusCode}`}`,
      );
      if (body.code === 'BALLAST_ERR_HOST_TAKEN_OUT') this.opts.onTakenOut?.(body.message ?? 'taken out of the cluster');
      req.destroy();
    });
  }

  private onMessage(msg: ControllerMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.onWelcome(msg);
        return;
      case 'hb-ack':
        this.opts.clock.addSample(msg.ts, msg.serverTime, Date.now());
        return;
      case 'req.ping':
      case 'req.facts':
      case 'req.health':
      case 'req.run':
      case 'req.cancel':
      case 'req.vip':
      case 'req.etcd':
        void this.answer(msg);
        return;
      case 'res':
        return; // the agent sends no requests yet
      case 'error':
        if (msg.code === 'BALLAST_ERR_PROTOCOL_VERSION') {
          this.log.error({ code: msg.code }, `controller refused our protocol: ${msg.message}`);
        } else {
          this.log.warn({ code: msg.code, reason: msg.message }, 'controller rejected a frame');
        }
        return;
      default: {
        const unhandled: never = msg;
        this.log.warn({ frame: unhandled }, 'unhandled controller frame');
      }
    }
  }

  /** Sends an agent event (component repaired, …) when connected; dropped while disconnected. */
  sendEvent(kind: AgentEventKind, message: string, data: Record<string, unknown> = {}): void {
    this.sendMessage({ type: 'event', kind, message, data });
  }

  private onWelcome(msg: Extract<ControllerMessage, { type: 'welcome' }>): void {
    this.healthIntervalMs = msg.healthIntervalMs;
    // Reset the backoff only once the connection has proved stable: a controller that accepts and
    // then crashes must not make 10,000 agents retry at the shortest delay in lockstep.
    this.timers.push(setTimeout(() => this.opts.backoff.reset(), STABLE_AFTER_MS));
    this.setState('connected', `connected to ${this.opts.creds.config.server} as ${msg.name}`);
    this.log.info({ hostId: msg.hostId, heartbeatIntervalMs: msg.heartbeatIntervalMs }, 'connected');
    this.sendHeartbeat();
    this.timers.push(setInterval(() => this.sendHeartbeat(), msg.heartbeatIntervalMs));
    const silence = this.opts.silenceTimeoutMs ?? Math.max(5000, msg.heartbeatIntervalMs * 5);
    this.timers.push(
      setInterval(() => {
        if (Date.now() - this.lastReceivedAt > silence) {
          this.log.warn({ silenceMs: Date.now() - this.lastReceivedAt }, 'controller went silent: reconnecting');
          this.ws?.terminate();
        }
      }, 1000),
    );
    this.collectAndSend('facts', async () => ({ type: 'facts', facts: await this.opts.collectFacts() }));
    this.lastHealth = null;
    void this.checkHealth();
    this.timers.push(setInterval(() => void this.checkHealth(), this.opts.healthCheckEveryMs ?? 5000));
  }

  private sendHeartbeat(): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.log.warn({ buffered: ws.bufferedAmount }, 'socket backed up: skipping a heartbeat');
      return;
    }
    this.seq += 1;
    this.sendMessage({ type: 'hb', seq: this.seq, ts: Date.now() });
  }

  private async checkHealth(): Promise<void> {
    let health: Health;
    try {
      health = await this.opts.collectHealth();
    } catch (err) {
      this.log.error({ err }, 'failed to collect health');
      return;
    }
    const due = Date.now() - this.lastHealthSentAt >= this.healthIntervalMs;
    if (this.lastHealth === null || due || this.opts.healthChanged(this.lastHealth, health)) {
      this.lastHealth = health;
      this.lastHealthSentAt = Date.now();
      this.sendMessage({ type: 'health', health });
    }
  }

  private collectAndSend(what: string, make: () => Promise<AgentMessage>): void {
    make().then(
      (msg) => this.sendMessage(msg),
      (err: unknown) => this.log.error({ err }, `failed to collect ${what}`),
    );
  }

  /**
   * Answers on the connection the request came on, or not at all: after a reconnect (a controller
   * restart) the request's ids mean nothing to the new controller, which learns how a run ended
   * from its events and its own records instead.
   */
  private async answer(req: ControllerRequest): Promise<void> {
    const origin = this.ws;
    let reply: AgentMessage;
    try {
      const result = await this.handle(req);
      reply = { type: 'res', id: req.id, ok: true, result };
    } catch (err) {
      const code = err instanceof BallastError ? err.code : 'BALLAST_ERR_INTERNAL';
      reply = { type: 'res', id: req.id, ok: false, error: { code, message: `failed to answer ${req.type}: ${messageOf(err)}` } };
    }
    if (this.ws !== origin) {
      this.log.info({ request: req.id, type: req.type }, 'dropped an answer: the connection its request came on is gone');
      return;
    }
    this.sendMessage(reply);
  }

  /** Answers typed against the controller's reply table, which checks them on arrival (responses.ts). */
  private async handle(req: ControllerRequest): Promise<ResponseOf<ControllerRequest>> {
    switch (req.type) {
      case 'req.ping':
        return { ts: Date.now() } satisfies ResponseOf<'req.ping'>;
      case 'req.facts':
        return this.opts.collectFacts();
      case 'req.health':
        return this.opts.collectHealth();
      case 'req.run': {
        const runner = this.requireRunner();
        const summary = await runner.run(req, (event) => this.sendMessage({ type: 'run.event', ...event }));
        await this.opts.afterRun?.().catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'failed to refresh after a run'));
        await this.checkHealth();
        return summary;
      }
      case 'req.cancel':
        return { cancelled: this.requireRunner().cancel(req.runId) } satisfies ResponseOf<'req.cancel'>;
      case 'req.vip':
        if (this.opts.vip === undefined) throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'this agent has no VIP manager enabled');
        return answerVipRequest(req, this.opts.vip);
      case 'req.etcd':
        if (this.opts.etcd === undefined) throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'this agent has no etcd maintenance enabled');
        return answerEtcdRequest(req, this.opts.etcd);
    }
  }

  private requireRunner(): RunPort {
    if (this.opts.runner === undefined) {
      throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'this agent has no task engine enabled');
    }
    return this.opts.runner;
  }

  private sendMessage(msg: AgentMessage): void {
    const ws = this.ws;
    if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(msg));
  }

  private sendError(error: ErrorBody): void {
    this.sendMessage({ type: 'error', ...error });
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.clearTimers();
    this.ws = null;
    if (this.stopped) return;
    const delay = this.opts.backoff.next();
    this.setState('waiting', `disconnected (${code}${reason ? `: ${reason}` : ''}); retrying in ${delay} ms`);
    this.log.info({ code, reason, retryInMs: delay, attempt: this.opts.backoff.attempts }, 'disconnected');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t); // clearTimeout clears intervals too
    this.timers = [];
  }

  /** Monotonic time (performance.now) of the last valid frame from the controller; null: none yet (the self-fence counts from it). */
  lastContactAt(): number | null {
    return this.lastContactMono;
  }

  /** True while the controller has accepted this session (welcomed). */
  connected(): boolean {
    return this.state === 'connected';
  }

  private setState(state: SessionState, detail: string): void {
    this.state = state;
    this.opts.onState?.(state, detail);
  }
}
