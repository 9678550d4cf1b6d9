/**
 * Hand-written fakes for the VIP service's tests: agents that answer `req.vip` from a tiny shared
 * election model (holder, term, a pending handover the target takes after a few status polls),
 * attached to a real HostTracker behind a real host directory, and an in-memory event log with listeners.
 */
import { BallastError } from '../../../shared/src/errors.js';
import { silentLogger } from '../../../shared/src/log.js';
import type { Health } from '../../../shared/src/protocol/facts.js';
import type { ControllerRequest } from '../../../shared/src/protocol/messages.js';
import { parseResponse, type ResponseOf } from '../../../shared/src/protocol/responses.js';
import type { VipAgentStatus, VipRequest } from '../../../shared/src/protocol/vip.js';
import { StoreHostDirectory } from '../fleet/directory.js';
import { HostEventBus } from '../fleet/events.js';
import { hostRecord, MemoryHostInventory } from '../fleet/testing.js';
import { HostTracker, type SessionHandle } from '../hub/host-tracker.js';
import type { EventListener, EventRecord, NewEvent } from '../store/events.js';
import type { VipEventsPort } from './service.js';

/** One fake agent; its fields are what it reports. */
export class FakeVipAgent implements SessionHandle {
  readonly sessionId: string;
  readonly received: VipRequest[] = [];
  healthy = true;
  healthMessage = 'ok';
  candidate = true;
  excluded = false;
  configured = true;
  renewP99: number | null = null;
  /** 'unsupported': an agent without the vip feature; 'hang': never answers (deadline); 'garbage': invalid result. */
  mode: 'ok' | 'unsupported' | 'hang' | 'garbage' = 'ok';

  constructor(
    readonly cluster: FakeVipCluster,
    readonly name: string,
  ) {
    this.sessionId = `s-${name}`;
  }

  close(): void {}

  /** Answers through the controller's reply check (parseResponse), as a real session's tracker would. */
  async request<R extends ControllerRequest>(make: (id: string) => R): Promise<ResponseOf<R>> {
    const made = make(`c-${this.received.length + 1}`);
    const req: ControllerRequest = made;
    if (req.type !== 'req.vip') throw new BallastError('BALLAST_ERR_UNSUPPORTED', `the fake VIP agent does not answer ${req.type}`);
    this.received.push(req);
    return parseResponse<R>(made, this.answer(req));
  }

  private answer(req: VipRequest): unknown {
    if (this.mode === 'unsupported') throw new BallastError('BALLAST_ERR_UNSUPPORTED', `agent of ${this.name} does not support req.vip`);
    if (this.mode === 'hang') throw new BallastError('BALLAST_ERR_DEADLINE_EXCEEDED', `no answer within ${req.timeoutMs} ms`);
    if (this.mode === 'garbage') return { host: this.name, state: 'sideways' };
    const c = this.cluster;
    switch (req.action) {
      case 'status':
        if (c.handover?.to === this.name && --c.handover.polls <= 0) c.take(this.name);
        return this.status();
      case 'move': {
        if (c.holder !== this.name) throw new BallastError('BALLAST_ERR_VIP_NOT_HOLDER', `${this.name} does not hold it`);
        const term = String(c.term);
        c.release(req.to);
        return { from: this.name, to: req.to, term };
      }
      case 'exclude': {
        this.excluded = true;
        const wasHolder = c.holder === this.name;
        if (wasHolder) c.release(req.to ?? null);
        return { status: this.status(), wasHolder, handedOverTo: wasHolder ? (req.to ?? null) : null };
      }
      case 'include':
        this.excluded = false;
        return this.status();
    }
  }

  status(): VipAgentStatus {
    const c = this.cluster;
    const holding = c.holder === this.name;
    return {
      host: this.name,
      configured: this.configured,
      name: this.configured ? 'api' : null,
      address: this.configured ? '198.18.0.250' : null,
      prefixLength: this.configured ? 32 : null,
      interface: this.configured ? 'eth0' : null,
      state: !this.configured ? 'idle' : holding ? 'holder' : this.excluded || !this.candidate ? 'excluded' : this.healthy ? 'candidate' : 'unhealthy',
      holder: c.holder,
      term: c.holder === null ? null : String(c.term),
      leaseLeftMs: holding ? 1600 : null,
      lastRenewRttMs: holding ? 3 : null,
      renewRttP50Ms: holding ? 2.5 : null,
      renewRttP99Ms: holding ? 9.5 : this.renewP99,
      renewSamples: holding ? 240 : 0,
      healthy: this.healthy,
      healthMessage: this.healthMessage,
      candidate: this.candidate,
      excluded: this.excluded,
    };
  }
}

/** The election the fake agents share. */
export class FakeVipCluster {
  holder: string | null = null;
  term = 1000;
  /** A pending handover: `to` takes the VIP at its `polls`-th status request. */
  handover: { to: string; polls: number } | null = null;
  /** Status polls a handover target needs before it holds (Infinity: never). */
  takeAfterPolls = 2;

  take(name: string): void {
    this.holder = name;
    this.term += 5;
    this.handover = null;
  }

  release(to: string | null): void {
    this.holder = null;
    this.handover = to === null ? null : { to, polls: this.takeAfterPolls };
  }
}

/** The `vip` check the agent's health carries while a vip.yaml exists. */
export function vipHealth(withVip = true): Health {
  return {
    ts: Date.now(),
    load: [0, 0, 0],
    memory: { totalBytes: 1, availableBytes: 1 },
    disks: [],
    clockOffsetMs: null,
    checks: withVip ? [{ name: 'vip', ok: true, message: 'candidate' }] : [],
  };
}

/**
 * Hosts `names` enrolled in a real tracker and directory (stored hosts in memory); `connected`
 * ones get a fake agent attached. `hostEvents` is the bus the directory's subscribers hear.
 */
export function fakeVipFleet(names: string[], connected: string[] = names) {
  const cluster = new FakeVipCluster();
  const events = new HostEventBus();
  const tracker = new HostTracker({ log: silentLogger(), sink: { transition: () => {} }, events });
  const inventory = new MemoryHostInventory();
  const directory = new StoreHostDirectory({ inventory, live: tracker, events });
  const agents = new Map<string, FakeVipAgent>();
  for (const name of names) {
    inventory.add(hostRecord({ id: `h_${name}`, name }));
    tracker.add({ id: `h_${name}`, name, enrolledAt: Date.now() });
    if (!connected.includes(name)) continue;
    const agent = new FakeVipAgent(cluster, name);
    agents.set(name, agent);
    tracker.attach(`h_${name}`, agent);
  }
  return { cluster, tracker, directory, hostEvents: events, agents, agent: (name: string) => agents.get(name)! };
}

/** store.events in memory. */
export class FakeEvents implements VipEventsPort {
  readonly items: EventRecord[] = [];
  private readonly listeners = new Set<EventListener>();
  append(e: NewEvent): EventRecord {
    const record: EventRecord = { id: this.items.length + 1, ts: Date.now(), host: e.host, kind: e.kind, message: e.message, data: e.data ?? {} };
    this.items.push(record);
    for (const l of [...this.listeners]) l(record);
    return record;
  }
  onAppend(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  kinds(): string[] {
    return this.items.map((e) => `${e.kind}:${e.host}`);
  }
}
