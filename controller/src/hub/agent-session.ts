import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { BallastError, type ErrorBody } from '../../../shared/src/errors.js';
import type { EventKind } from '../../../shared/src/events.js';
import type { FrameDecoder } from '../../../shared/src/protocol/codec.js';
import { encodeFrame } from '../../../shared/src/protocol/codec.js';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import { PROTOCOL_VERSION } from '../../../shared/src/protocol/limits.js';
import { type AgentMessage, type ControllerMessage, type ControllerRequest, REQUEST_FEATURES, type RunEvent } from '../../../shared/src/protocol/messages.js';
import type { ResponseOf } from '../../../shared/src/protocol/responses.js';
import { RequestTracker } from '../../../shared/src/protocol/rpc.js';
import type { ControllerMetrics } from '../metrics.js';
import { EVENT_BUDGET_DEFAULTS, EventBudget, type EventBudgetOptions, WarnThrottle } from './event-budget.js';
import { type DisconnectNotices, describeClose } from './disconnect-notices.js';
import type { HostTracker, SessionHandle } from './host-tracker.js';
import type { IdentityConflict, SessionPeer } from './identity-conflict.js';

/** Where a session stores what its agent reports. */
export interface SessionStorePort {
  recordHeartbeat(hostId: string, seq: number, receivedAt: number, onStored: (storedAt: number) => void): void;
  saveConnection(hostId: string, info: { address: string | null; agentVersion: string; sessionId: string }): void;
  saveFacts(hostId: string, facts: Facts): void;
  saveHealth(hostId: string, health: Health, at: number): void;
  event(e: { host: string; kind: EventKind; message: string; data?: Record<string, unknown> }): void;
}

/** Receives run progress from agents (the run orchestrator). */
export interface RunEventPort {
  onRunEvent(host: { id: string; name: string }, event: RunEvent): void;
  /** The agent of `host` said hello (connected or reconnected). */
  onAgentConnected?(host: { id: string; name: string }, session: AgentSession): void;
}

/** Shared by all sessions of one hub. */
export interface SessionContext {
  store: SessionStorePort;
  tracker: HostTracker;
  metrics: ControllerMetrics;
  decoder: FrameDecoder<AgentMessage>;
  log: Logger;
  now: () => number;
  heartbeatIntervalMs: number;
  healthIntervalMs: number;
  /** Close the socket when no hello arrives in this time. */
  helloTimeoutMs: number;
  /**
   * A session that sends more than this many rejected frames within 10 s is terminated (no closing
   * handshake) and none of its later frames is read.
   */
  maxRejectedPer10s: number;
  /** Bound on `event` frames per session; default {@link EVENT_BUDGET_DEFAULTS} (20/s, burst 100). */
  eventBudget?: EventBudgetOptions;
  /** Where run progress goes; absent: run events are logged and dropped. */
  runs?: RunEventPort;
  /** Holds `disconnected` events back so a quick reconnect is one event; absent: written at once. */
  disconnects?: DisconnectNotices;
}

/**
 * One authenticated agent connection. The identity (host id and name) comes from the verified
 * client certificate, never from what the agent says. The first frame must be `hello` with our
 * protocol version; after `welcome`, heartbeats, facts, health and responses flow.
 */
export class AgentSession implements SessionHandle {
  readonly sessionId = randomUUID();
  private ready = false;
  /**
   * Request ids unique across connections and controller restarts (`c-<session>-N`): an agent that
   * finished a request of an earlier connection must never have its answer taken for one of ours.
   */
  private readonly requests = new RequestTracker(`c-${this.sessionId.slice(0, 8)}`);
  private readonly log: Logger;
  private rejectedWindowStart = 0;
  private rejectedInWindow = 0;
  /** Set when the session is terminated for abuse: frames ws still delivers are ignored unread. */
  private terminated = false;
  private readonly events: EventBudget;
  /** An agent's `error` frames are logged once a minute at most, with how many there were. */
  private readonly agentErrorWarnings = new WarnThrottle(60_000);
  private helloTimer: NodeJS.Timeout | null;
  /** Request families the agent's hello advertised (see REQUEST_FEATURES); agents before them send none. */
  private features: ReadonlySet<string> = new Set();
  private agentVersion = 'unknown';
  /** Set at hello: the tracker compares it with the session this one replaces. */
  peer: SessionPeer | undefined;

  constructor(
    private readonly ctx: SessionContext,
    private readonly socket: WebSocket,
    readonly host: { id: string; name: string; address: string | null },
  ) {
    this.log = ctx.log.child({ component: 'session', host: host.name, session: this.sessionId });
    this.events = new EventBudget(ctx.eventBudget ?? EVENT_BUDGET_DEFAULTS);
    socket.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    socket.on('close', (code, reason) => this.onClose(code, reason.toString()));
    socket.on('error', (err) => {
      // ws reports oversized frames (over the hard limit) here and then closes the socket.
      const reason = /max payload/i.test(err.message) ? 'BALLAST_ERR_FRAME_TOO_LARGE' : 'socket_error';
      ctx.metrics.framesRejected.inc({ reason });
      this.log.warn({ err: err.message }, 'agent socket error');
    });
    this.helloTimer = setTimeout(() => this.close(1008, 'no hello within deadline'), ctx.helloTimeoutMs);
    this.helloTimer.unref();
  }

  /** Sends a request to the agent and resolves with its result, validated by the tracker (or a coded error). */
  request<R extends ControllerRequest>(make: (id: string) => R): Promise<ResponseOf<R>> {
    const msg = make(this.requests.nextId());
    const feature = REQUEST_FEATURES[msg.type];
    if (feature !== undefined && !this.features.has(feature)) {
      // An older agent would only answer with an unknown-type error frame (no id): refuse up front.
      return Promise.reject(
        new BallastError('BALLAST_ERR_UNSUPPORTED', `failed to send ${msg.type} to ${this.host.name}: agent ${this.agentVersion} does not support it (no "${feature}" in its hello); upgrade the agent`),
      );
    }
    return this.requests.start<R>({ ...msg, send: () => this.send(msg) });
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  private send(msg: ControllerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) throw new BallastError('BALLAST_ERR_PEER_GONE', 'socket is not open');
    this.socket.send(encodeFrame(msg));
  }

  private sendError(error: ErrorBody): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(encodeFrame({ type: 'error', ...error }));
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    // ws may still hand over frames it had buffered when the socket was terminated: not one more is read.
    if (this.terminated) return;
    const receivedAt = this.ctx.now();
    const decoded = isBinary
      ? { ok: false as const, error: { code: 'BALLAST_ERR_FRAME_MALFORMED' as const, message: 'binary frames are not accepted' } }
      : this.ctx.decoder.decode(data);
    if (!decoded.ok) {
      this.reject(decoded.error, receivedAt);
      return;
    }
    try {
      this.dispatch(decoded.message, receivedAt);
    } catch (err) {
      // A store failure (e.g. the host was removed mid-session) must never escape the socket handler:
      // that would take the whole controller down.
      this.log.error({ err }, 'failed to handle agent frame');
      this.sendError({ code: 'BALLAST_ERR_INTERNAL', message: 'controller failed to handle the frame' });
    }
  }

  private dispatch(msg: AgentMessage, receivedAt: number): void {
    this.ctx.metrics.messages.inc({ type: msg.type });
    if (!this.ready && msg.type !== 'hello') {
      this.reject({ code: 'BALLAST_ERR_FRAME_UNEXPECTED', message: `expected "hello" first, got "${msg.type}"` }, receivedAt);
      return;
    }
    switch (msg.type) {
      case 'hello':
        this.onHello(msg);
        return;
      case 'hb':
        this.ctx.tracker.heartbeat(this.host.id, receivedAt);
        this.ctx.store.recordHeartbeat(this.host.id, msg.seq, receivedAt, (storedAt) => {
          this.ctx.metrics.heartbeatStoreSeconds.observe((storedAt - receivedAt) / 1000);
          if (this.socket.readyState === this.socket.OPEN) {
            this.socket.send(encodeFrame({ type: 'hb-ack', seq: msg.seq, ts: msg.ts, serverTime: storedAt }));
          }
        });
        return;
      case 'facts':
        this.ctx.store.saveFacts(this.host.id, msg.facts);
        return;
      case 'health': {
        this.ctx.store.saveHealth(this.host.id, msg.health, receivedAt);
        const failing = msg.health.checks.filter((c) => !c.ok).map((c) => c.name);
        this.ctx.tracker.setFailingChecks(this.host.id, failing);
        return;
      }
      case 'res':
        if (!this.requests.complete(msg)) this.log.debug({ id: msg.id }, 'response for no pending request');
        return;
      case 'error': {
        const count = this.agentErrorWarnings.take(receivedAt);
        if (count !== null) this.log.warn({ code: msg.code, reason: msg.message, count }, 'agent rejected a frame');
        return;
      }
      case 'run.event':
        if (this.ctx.runs === undefined) this.log.debug({ runId: msg.runId }, 'run event with no run orchestrator');
        else this.ctx.runs.onRunEvent(this.host, msg);
        return;
      case 'event': {
        const verdict = this.events.take(receivedAt);
        if (!verdict.accept) {
          this.ctx.metrics.agentEventsDropped.inc({ reason: 'rate' });
          if (verdict.warn !== null) this.warnEventsDropped(verdict.warn.dropped);
          return;
        }
        this.ctx.store.event({ host: this.host.name, kind: `agent.${msg.kind}`, message: msg.message, data: msg.data });
        return;
      }
      default: {
        const unhandled: never = msg;
        this.log.warn({ frame: unhandled }, 'unhandled agent frame');
      }
    }
  }

  private onHello(msg: Extract<AgentMessage, { type: 'hello' }>): void {
    if (this.ready) {
      this.reject({ code: 'BALLAST_ERR_FRAME_UNEXPECTED', message: 'duplicate "hello"' }, this.ctx.now());
      return;
    }
    if (msg.protocol !== PROTOCOL_VERSION) {
      const message = `agent speaks protocol v${msg.protocol}, controller speaks v${PROTOCOL_VERSION}`;
      this.ctx.metrics.authRejected.inc({ reason: 'protocol_version' });
      this.log.warn({ agentProtocol: msg.protocol, agentVersion: msg.agentVersion }, 'protocol version mismatch');
      this.sendError({ code: 'BALLAST_ERR_PROTOCOL_VERSION', message });
      this.close(4002, message.slice(0, 120));
      return;
    }
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.ready = true;
    this.features = new Set(msg.features ?? []);
    this.agentVersion = msg.agentVersion;
    this.peer = { agentSessionId: msg.sessionId, address: this.host.address };
    const { replaced, conflictStarted } = this.ctx.tracker.attach(this.host.id, this);
    const dropped = this.ctx.disconnects?.reconnected(this.host.name) ?? null;
    this.ctx.store.saveConnection(this.host.id, {
      address: this.host.address,
      agentVersion: msg.agentVersion,
      sessionId: msg.sessionId,
    });
    this.ctx.metrics.agentsConnected.inc();
    this.ctx.store.event({
      host: this.host.name,
      kind: 'connected',
      // One event for a heal: the replaced connection records no `disconnected` (see onClose).
      message: replaced
        ? `agent ${msg.agentVersion} reconnected from ${this.host.address ?? 'unknown address'}, replacing its previous connection, which had not closed (a network partition healed, or the agent restarted before the old connection timed out)`
        : dropped !== null
          ? `agent ${msg.agentVersion} reconnected from ${this.host.address ?? 'unknown address'} ${dropped.downMs} ms after its previous connection dropped (${describeClose(dropped.code, dropped.reason)}; a network partition healed, or the agent restarted)`
          : `agent ${msg.agentVersion} connected from ${this.host.address ?? 'unknown address'}`,
      data: {
        agentSession: msg.sessionId,
        address: this.host.address,
        ...(replaced ? { replaced: true } : {}),
        ...(dropped !== null ? { reconnected: true, downMs: dropped.downMs, previousCode: dropped.code } : {}),
      },
    });
    if (conflictStarted !== null) this.recordConflict(conflictStarted);
    this.log.info({ agentVersion: msg.agentVersion, address: this.host.address }, 'agent connected');
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      hostId: this.host.id,
      name: this.host.name,
      heartbeatIntervalMs: this.ctx.heartbeatIntervalMs,
      healthIntervalMs: this.ctx.healthIntervalMs,
      serverTime: this.ctx.now(),
    });
    this.ctx.runs?.onAgentConnected?.(this.host, this);
  }

  /** The event and the count of a host newly flagged `conflict` (once per flag, not per replacement). */
  private recordConflict(conflict: IdentityConflict): void {
    this.ctx.metrics.identityConflicts.inc();
    const from = conflict.addresses.length > 0 ? ` (from ${conflict.addresses.join(', ')})` : '';
    this.ctx.store.event({
      host: this.host.name,
      kind: 'identity.conflict',
      message: `two live agents are using the certificate of host "${this.host.name}"${from}: their connections replaced each other ${conflict.replacements} times within a minute; a copied agent data dir? Remedy: \`ballastctl host remove ${this.host.name}\`, then join the real host again with a new token`,
      data: { replacements: conflict.replacements, addresses: conflict.addresses },
    });
  }

  /** One warning (and one coded error frame) per interval for a session over its event budget. */
  private warnEventsDropped(dropped: number): void {
    const { perSecond, burst } = this.ctx.eventBudget ?? EVENT_BUDGET_DEFAULTS;
    const message = `failed to record agent events: more than ${perSecond}/s (burst ${burst}); ${dropped} dropped since the last warning`;
    this.log.warn({ dropped, perSecond, burst }, 'dropping agent events over the rate limit');
    this.sendError({ code: 'BALLAST_ERR_RATE_LIMITED', message });
  }

  private reject(error: ErrorBody, at: number): void {
    this.ctx.metrics.framesRejected.inc({ reason: error.code });
    if (error.code === 'BALLAST_ERR_FRAME_TOO_DEEP') this.ctx.metrics.jsonTooDeep.inc({ channel: 'ws' });
    if (at - this.rejectedWindowStart > 10_000) {
      this.rejectedWindowStart = at;
      this.rejectedInWindow = 0;
    }
    this.rejectedInWindow += 1;
    if (this.rejectedInWindow > this.ctx.maxRejectedPer10s) {
      // terminate, not close: a graceful close leaves the socket readable until the peer answers,
      // and every frame it kept sending was decoded, answered and logged (issue 16 point 7).
      this.terminated = true;
      this.log.warn({ rejected: this.rejectedInWindow, lastCode: error.code }, 'terminating session: too many rejected frames');
      this.socket.terminate();
      return;
    }
    this.sendError(error);
  }

  private onClose(code: number, reason: string): void {
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    this.requests.failAll(`agent disconnected (${code})`);
    if (!this.ready) return;
    this.ctx.metrics.agentsConnected.dec();
    if (!this.ctx.tracker.detach(this.host.id, this)) {
      // Replaced by a newer session of the same agent: its `connected` event said so already, and
      // a `disconnected` after it would read as if the host had just gone away.
      this.log.info({ code, reason }, 'replaced agent connection closed');
      return;
    }
    if (this.ctx.disconnects !== undefined) {
      this.ctx.disconnects.dropped(this.host.name, code, reason);
    } else {
      this.ctx.store.event({ host: this.host.name, kind: 'disconnected', message: `agent disconnected (${describeClose(code, reason)})`, data: { code } });
    }
    this.log.info({ code, reason }, 'agent disconnected');
  }
}
