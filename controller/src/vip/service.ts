/**
 * The controller's side of the VIP (DESIGN.md "The VIP"): shows the holder, term and candidates,
 * moves the VIP on purpose (graceful handover) and takes hosts out of the election for maintenance.
 *
 * The controller is NEVER in the failover path. The election runs between the agents and etcd
 * (agent/src/vip); a crashed or partitioned holder is replaced with the controller stopped. This
 * service only observes (a bounded background poll every 5 s, each call with a short deadline)
 * and asks agents to do things they could also do on their own (hand over, exclude). If it is
 * slow or down, nothing about the VIP's availability changes.
 *
 * Which hosts are asked: those whose last health snapshot has a `vip` check (the agent reports
 * it only while a vip.yaml exists, agent/src/run.ts), learned from the store at start and from
 * every snapshot after (the directory's `host.health` events, {@link VipService.observeHealth}).
 */
import type { Logger } from 'pino';
import { BallastError, type ErrorBody, isBallastError, messageOf } from '../../../shared/src/errors.js';
import type { Health } from '../../../shared/src/protocol/facts.js';
import type { ResponseOf } from '../../../shared/src/protocol/responses.js';
import type { VipAgentStatus, VipRequest } from '../../../shared/src/protocol/vip.js';
import type { VipHostChangeResponse, VipMoveResponse, VipStatusResponse, VipView } from '../../../shared/src/vip-api.js';
import type { HostDirectory, HostView } from '../fleet/directory.js';
import type { ControllerMetrics } from '../metrics.js';
import type { EventListener, NewEvent } from '../store/events.js';
import type { ControllerEventKind } from '../../../shared/src/events.js';
import { aggregate, bestCandidate, candidateOf, type HostReport } from './aggregate.js';

/** The hosts the service can reach, and their health snapshots and removals (the host directory). */
export type VipHostsPort = Pick<HostDirectory, 'get' | 'getById' | 'session' | 'on'>;

/** The event log (store.events). */
export interface VipEventsPort {
  append(event: NewEvent): unknown;
  onAppend(listener: EventListener): () => void;
}

/** Options of {@link VipService}. */
export interface VipServiceOptions {
  hosts: VipHostsPort;
  events: VipEventsPort;
  metrics: Pick<ControllerMetrics, 'vipHolder' | 'vipTransitions' | 'vipRenewRtt' | 'vipHolders' | 'vipTerm'>;
  log: Logger;
  now?: () => number;
  /** Deadline of a status request (default 1500 ms: status never waits on etcd). */
  statusTimeoutMs?: number;
  /** Deadline of a move/exclude request: the holder writes a handover key and deletes its holder key (1 s etcd deadlines each). */
  actionTimeoutMs?: number;
  /** How long move waits for the target to report holding (default 5 s). */
  moveWaitMs?: number;
  /** How often the target is asked while waiting (default 100 ms). */
  movePollMs?: number;
  /** Background poll interval (default 5 s). */
  pollIntervalMs?: number;
  /** Most status requests in flight at once (default 32). */
  concurrency?: number;
}

const VIP_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** See the file comment. */
export class VipService {
  private readonly log: Logger;
  private readonly now: () => number;
  /** Host ids whose health has a `vip` check. */
  private readonly vipHosts = new Set<string>();
  /** Last successful report per host id. */
  private readonly last = new Map<string, { report: VipAgentStatus; at: number }>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<unknown> | null = null;
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly opts: VipServiceOptions) {
    this.log = opts.log.child({ component: 'vip' });
    this.now = opts.now ?? Date.now;
    this.unsubscribe.push(
      // After the snapshot committed (fleet/reports.ts), never inside its transaction.
      opts.hosts.on('host.health', (e) => this.observeHealth(e.host.id, e.health)),
      opts.hosts.on('host.removed', (e) => this.forget(e.host.id)),
    );
    this.unsubscribe.push(opts.events.onAppend((e) => {
      // The agents' own events are the transition record: count them as they arrive.
      if (e.kind !== 'agent.vip.acquired') return;
      const vip = e.data.vip;
      if (typeof vip !== 'string' || !VIP_NAME.test(vip)) return;
      opts.metrics.vipTransitions.inc({ vip });
      if (e.host !== null) this.markHolder(vip, e.host);
    }));
  }

  /** Learns VIP hosts from stored health snapshots (once, at start). */
  seed(hosts: Iterable<{ id: string; health: Health | null }>): void {
    for (const h of hosts) if (h.health !== null) this.observeHealth(h.id, h.health);
  }

  /** Called for every health snapshot an agent sends (cheap: one scan of its ≤128 checks). */
  observeHealth(hostId: string, health: Health): void {
    if (health.checks.some((c) => c.name === 'vip')) this.vipHosts.add(hostId);
    else this.forget(hostId);
  }

  /** A host that left the election (no `vip` check any more) or the fleet is no longer asked. */
  private forget(hostId: string): void {
    if (this.vipHosts.delete(hostId)) this.last.delete(hostId);
  }

  /** Starts the background poll that refreshes the metrics. */
  start(): void {
    this.stop();
    const every = this.opts.pollIntervalMs ?? 5_000;
    this.timer = setInterval(() => {
      if (this.polling !== null || this.vipHosts.size === 0) return; // never pile polls up
      this.polling = this.status()
        .catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'VIP poll failed'))
        .finally(() => {
          this.polling = null;
        });
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops the poll and the event subscriptions. */
  close(): void {
    this.stop();
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
  }

  /** Asks every VIP host in parallel (bounded, short deadline) and aggregates per VIP. */
  async status(): Promise<VipStatusResponse> {
    const hosts = [...this.vipHosts].map((id) => this.opts.hosts.getById(id)).filter((h): h is HostView => h !== null);
    const reports = await this.collect(hosts);
    const items = aggregate(reports);
    this.updateMetrics(items);
    return { items, observedAt: new Date(this.now()).toISOString() };
  }

  /**
   * Graceful move: refuses an unfit target with the reason, asks the holder to hand over, and
   * waits (≤ moveWaitMs) until the target reports holding.
   */
  async move(to: string, actor: string): Promise<VipMoveResponse> {
    const target = this.find(to);
    const refuse = (reason: string): never => {
      this.event(to, 'vip.move-refused', `VIP move to ${to} refused: ${reason}`, { to, reason, by: actor });
      throw new BallastError('BALLAST_ERR_VIP_TARGET_UNFIT', `failed to move the VIP to ${to}: ${reason}`);
    };
    if (target.session === null) return refuse(`${to} is not connected to the controller (state ${target.state})`);
    let ts: VipAgentStatus;
    try {
      ts = await this.askStatus(target);
    } catch (err) {
      return refuse(`${to} did not report its VIP status (${codeOf(err)}: ${messageOf(err)})`);
    }
    if (!ts.configured || ts.name === null) return refuse(`no VIP is configured on ${to}`);
    if (ts.excluded) return refuse(`${to} is excluded for maintenance (ballastctl vip include ${to})`);
    if (!ts.candidate) return refuse(`${to} is not a VIP candidate (candidate: false in its vip.yaml)`);
    if (!ts.healthy) return refuse(`${to}'s VIP health check fails: ${ts.healthMessage}`);
    if (ts.state === 'holder') return { vip: ts.name, from: to, to, moved: false, previousTerm: ts.term, term: ts.term, tookMs: 0 };

    const view = (await this.status()).items.find((v) => v.name === ts.name);
    const holderName = view?.holderSource === 'holder' ? view.holder : null;
    if (view === undefined || holderName === null) {
      const seen = view?.holder === null || view === undefined ? 'no holder is recorded in etcd' : `etcd names ${view.holder} (term ${view.term}), which is not connected`;
      this.event(to, 'vip.move-failed', `VIP ${ts.name} move to ${to} failed: no reachable holder`, { to, by: actor });
      throw new BallastError('BALLAST_ERR_VIP_NO_HOLDER', `failed to move VIP ${ts.name} to ${to}: no connected host holds it; ${seen}`);
    }
    const holder = this.find(holderName);
    const started = this.now();
    const handed = await this.ask(holder, (id, timeoutMs) => ({ type: 'req.vip', id, timeoutMs, action: 'move', to }), this.opts.actionTimeoutMs ?? 5_000);
    const after = await this.waitForHolder(target);
    const tookMs = this.now() - started;
    if (after?.state !== 'holder') {
      const now = after === null ? 'no answer' : `state ${after.state}, holder ${after.holder ?? 'none'}`;
      this.event(to, 'vip.move-failed', `VIP ${ts.name} handed over by ${holderName} but ${to} did not take it within ${tookMs} ms (${now})`, { from: holderName, to, by: actor });
      throw new BallastError('BALLAST_ERR_VIP_MOVE_TIMEOUT', `failed to move VIP ${ts.name} to ${to}: ${holderName} handed it over, but ${to} did not report holding it within ${this.opts.moveWaitMs ?? 5_000} ms (${now})`);
    }
    this.markHolder(ts.name, to);
    const message = `VIP ${ts.name} moved from ${holderName} to ${to} in ${tookMs} ms (term ${handed.term ?? '?'} → ${after.term ?? '?'})`;
    this.event(to, 'vip.moved', message, { vip: ts.name, from: holderName, to, previousTerm: handed.term, term: after.term, tookMs, by: actor });
    this.log.info({ vip: ts.name, from: holderName, to, tookMs, term: after.term, by: actor }, 'VIP moved');
    return { vip: ts.name, from: holderName, to, moved: true, previousTerm: handed.term, term: after.term, tookMs };
  }

  /** Takes `hostName` out of the election; a holder hands over to the best candidate first (or resigns). */
  async exclude(hostName: string, actor: string): Promise<VipHostChangeResponse> {
    const host = this.connected(hostName, 'exclude');
    const before = await this.askStatus(host);
    let to: string | undefined;
    if (before.state === 'holder' && before.name !== null) {
      const view = (await this.status()).items.find((v) => v.name === before.name);
      to = view === undefined ? undefined : bestCandidate(view, hostName)?.host;
    }
    const target = to === undefined ? {} : { to };
    const res = await this.ask(host, (id, timeoutMs) => ({ type: 'req.vip', id, timeoutMs, action: 'exclude', ...target }), this.opts.actionTimeoutMs ?? 5_000);
    this.remember(host.id, res.status);
    if (res.handedOverTo !== null) {
      // Best effort: the answer is clearer once the next holder has it; exclusion itself is done.
      const next = this.findOptional(res.handedOverTo);
      if (next !== null && (await this.waitForHolder(next))?.state === 'holder' && res.status.name !== null) this.markHolder(res.status.name, next.name);
    }
    const how = res.wasHolder ? (res.handedOverTo === null ? ', resigning the VIP (no fit candidate to hand over to)' : `, handing the VIP over to ${res.handedOverTo}`) : '';
    this.event(hostName, 'vip.excluded', `${hostName} excluded from VIP election${res.status.name === null ? '' : ` ${res.status.name}`}${how}`, {
      vip: res.status.name,
      wasHolder: res.wasHolder,
      handedOverTo: res.handedOverTo,
      by: actor,
    });
    return { action: 'exclude', host: hostName, vip: res.status.name, wasHolder: res.wasHolder, handedOverTo: res.handedOverTo, candidate: this.candidate(host, res.status) };
  }

  /** Lets `hostName` campaign again (if its vip.yaml makes it a candidate). */
  async include(hostName: string, actor: string): Promise<VipHostChangeResponse> {
    const host = this.connected(hostName, 'include');
    const s = await this.ask(host, (id, timeoutMs) => ({ type: 'req.vip', id, timeoutMs, action: 'include' }));
    this.remember(host.id, s);
    this.event(hostName, 'vip.included', `${hostName} included in VIP election${s.name === null ? '' : ` ${s.name}`} again`, { vip: s.name, by: actor });
    return { action: 'include', host: hostName, vip: s.name, wasHolder: false, handedOverTo: null, candidate: this.candidate(host, s) };
  }

  // ---- internals -----------------------------------------------------------------------------

  private async collect(hosts: HostView[]): Promise<HostReport[]> {
    const out: HostReport[] = [];
    const limit = Math.max(1, this.opts.concurrency ?? 32);
    for (let i = 0; i < hosts.length; i += limit) {
      const batch = hosts.slice(i, i + limit);
      out.push(...(await Promise.all(batch.map((h) => this.reportOf(h)))));
    }
    return out;
  }

  private async reportOf(host: HostView): Promise<HostReport> {
    const prev = this.last.get(host.id) ?? null;
    const stale = (error: ErrorBody | { code: string; message: string }): HostReport => ({
      host: host.name,
      reachable: false,
      report: prev?.report ?? null,
      at: prev?.at ?? null,
      error: { code: error.code, message: error.message },
    });
    if (host.session === null) return stale({ code: 'BALLAST_ERR_PEER_GONE', message: `${host.name} is not connected (state ${host.state})` });
    try {
      const report = await this.askStatus(host);
      const at = this.remember(host.id, report);
      return { host: host.name, reachable: true, report, at, error: null };
    } catch (err) {
      return stale({ code: codeOf(err), message: messageOf(err) });
    }
  }

  private remember(hostId: string, report: VipAgentStatus): number {
    const at = this.now();
    this.last.set(hostId, { report, at });
    return at;
  }

  /**
   * One `req.vip` with a deadline. Its result arrives validated by the session and typed for the
   * action `make` asks (ResponseOf): a status for status/include, a handover for move.
   */
  private async ask<R extends VipRequest>(host: HostView, make: (id: string, timeoutMs: number) => R, timeoutMs?: number): Promise<ResponseOf<R>> {
    // The live session, not the view's: a move waits seconds, and an agent may reconnect meanwhile.
    const session = this.opts.hosts.session(host.id);
    if (session === null) throw new BallastError('BALLAST_ERR_PEER_GONE', `failed to reach ${host.name}: its agent is not connected`);
    const deadline = timeoutMs ?? this.opts.statusTimeoutMs ?? 1_500;
    return session.request((id) => make(id, deadline));
  }

  /** The status request every read path uses (move's checks, exclude, the poll, waiting for a holder). */
  private askStatus(host: HostView): Promise<VipAgentStatus> {
    return this.ask(host, (id, timeoutMs) => ({ type: 'req.vip', id, timeoutMs, action: 'status' }));
  }

  /** Asks `target` every movePollMs until it holds or moveWaitMs passed; its last status (or null). */
  private async waitForHolder(target: HostView): Promise<VipAgentStatus | null> {
    const until = this.now() + (this.opts.moveWaitMs ?? 5_000);
    let last: VipAgentStatus | null = null;
    for (;;) {
      try {
        last = await this.askStatus(target);
        this.remember(target.id, last);
        if (last.state === 'holder') return last;
      } catch (err) {
        this.log.debug({ host: target.name, err: messageOf(err) }, 'no VIP status while waiting for the new holder');
      }
      if (this.now() >= until) return last;
      await sleep(this.opts.movePollMs ?? 100);
    }
  }

  private findOptional(name: string): HostView | null {
    return this.opts.hosts.get(name);
  }

  private find(name: string): HostView {
    const h = this.findOptional(name);
    if (h === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `host "${name}" is not enrolled`);
    return h;
  }

  private connected(name: string, verb: 'exclude' | 'include'): HostView {
    const h = this.find(name);
    if (h.session === null) {
      throw new BallastError(
        'BALLAST_ERR_PEER_GONE',
        `failed to ${verb} ${name}: its agent is not connected (state ${h.state}); on the host itself, ${verb === 'exclude' ? 'create' : 'remove'} /var/lib/ballast/vip-excluded`,
      );
    }
    return h;
  }

  private candidate(host: HostView, report: VipAgentStatus) {
    return candidateOf({ host: host.name, reachable: true, report, at: this.last.get(host.id)?.at ?? this.now(), error: null });
  }

  /** 1 on `holder`, 0 on every other host last seen in `vip`. */
  private markHolder(vip: string, holder: string): void {
    this.opts.metrics.vipHolder.set({ vip, host: holder }, 1);
    for (const { report } of this.last.values()) {
      if (report.name === vip && report.host !== holder) this.opts.metrics.vipHolder.set({ vip, host: report.host }, 0);
    }
  }

  private updateMetrics(items: readonly VipView[]): void {
    const { vipHolder, vipRenewRtt, vipHolders, vipTerm } = this.opts.metrics;
    // Reset first so hosts that left an election do not keep a stale series.
    vipHolder.reset();
    vipRenewRtt.reset();
    vipHolders.reset();
    vipTerm.reset();
    for (const v of items) {
      // Self-reports of reachable hosts only: a stale report of an unreachable former holder is not a holder.
      vipHolders.set({ vip: v.name }, v.candidates.filter((c) => c.reachable && c.state === 'holder').length);
      if (v.term !== null) vipTerm.set({ vip: v.name }, Number(v.term));
      for (const c of v.candidates) {
        vipHolder.set({ vip: v.name, host: c.host }, v.holder === c.host ? 1 : 0);
        if (c.renewRttP50Ms !== null) vipRenewRtt.set({ vip: v.name, host: c.host, quantile: '0.5' }, c.renewRttP50Ms / 1000);
        if (c.renewRttP99Ms !== null) vipRenewRtt.set({ vip: v.name, host: c.host, quantile: '0.99' }, c.renewRttP99Ms / 1000);
      }
    }
  }

  private event(host: string, kind: ControllerEventKind, message: string, data: Record<string, unknown>): void {
    this.opts.events.append({ host, kind, message, data });
  }
}

function codeOf(err: unknown): string {
  return isBallastError(err) ? err.code : 'BALLAST_ERR_INTERNAL';
}
