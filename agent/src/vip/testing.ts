/**
 * Hand-written fakes of the VIP ports for unit tests: a fake clock, an in-memory etcd with lease
 * expiry on that clock, and an address whose kernel lifetime is modelled pessimistically (it
 * lives lifetime + 250 ms after its last renewal, the worst case measured).
 */
import { BallastError } from '../../../shared/src/errors.js';
import { KERNEL_EXPIRY_SLACK_MS } from './config.js';
import type { AddressPort, ArpPort, Clock, ElectionView, EtcdLeasePort, HandoverRecord, HealthSignal, HolderRecord, VipEventKind } from './ports.js';

export class FakeClock implements Clock {
  t = 1_000;
  wall = 1_700_000_000_000;
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wall + this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

interface StoredKey {
  value: string;
  lease: string;
  createRevision: number;
}

/** What a test may make the next calls do. */
export interface EtcdFaults {
  /** Added to the fake clock inside each call (a round trip). */
  rttMs?: number;
  keepAlive?: 'fail' | null;
  /** Every call fails (member cut off). */
  all?: 'fail' | null;
}

/** One etcd shared by several electors. Leases expire exactly TTL after the last grant/keep-alive. */
export class FakeEtcd {
  revision = 1;
  nextLease = 100;
  leases = new Map<string, number>(); // id → expiresAt
  ttls = new Map<string, number>();
  keys = new Map<string, StoredKey>();
  constructor(readonly clock: FakeClock) {}

  expire(): void {
    for (const [id, at] of this.leases) {
      if (at <= this.clock.now()) this.dropLease(id);
    }
  }
  dropLease(id: string): void {
    this.leases.delete(id);
    for (const [k, v] of this.keys) {
      if (v.lease === id) {
        this.keys.delete(k);
        this.revision += 1;
      }
    }
  }
  /** The earliest time the holder key can disappear (its lease's expiry), or null. */
  holderExpiry(): number | null {
    const h = this.keys.get('holder');
    return h === undefined ? null : (this.leases.get(h.lease) ?? null);
  }

  /** A port for one elector; `faults` is read on every call. */
  port(faults: EtcdFaults = {}): EtcdLeasePort {
    const call = async <T>(fn: () => T, kind?: 'keepAlive'): Promise<T> => {
      if (faults.all === 'fail' || (kind === 'keepAlive' && faults.keepAlive === 'fail')) {
        this.clock.advance(faults.rttMs ?? 1);
        throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', 'fake etcd: no answer');
      }
      // etcd processes the request halfway through the round trip.
      const half = (faults.rttMs ?? 2) / 2;
      this.clock.advance(half);
      this.expire();
      const out = fn();
      this.clock.advance(half);
      return out;
    };
    const holder = (): HolderRecord | null => {
      const k = this.keys.get('holder');
      if (k === undefined) return null;
      const v = JSON.parse(k.value) as { host: string; since: number };
      return { host: v.host, since: v.since, lease: k.lease, term: String(k.createRevision) };
    };
    return {
      grant: (ttl) =>
        call(() => {
          const id = String(this.nextLease++);
          this.leases.set(id, this.clock.now() + ttl * 1000);
          this.ttls.set(id, ttl);
          return { id, ttlSeconds: ttl };
        }),
      keepAlive: (id) =>
        call(() => {
          const ttl = this.ttls.get(id) ?? 0;
          if (!this.leases.has(id)) return { ttlSeconds: 0 };
          this.leases.set(id, this.clock.now() + ttl * 1000);
          return { ttlSeconds: ttl };
        }, 'keepAlive'),
      revoke: (id) => call(() => this.dropLease(id)),
      read: () =>
        call((): ElectionView => {
          const ho = this.keys.get('handover');
          return { holder: holder(), handover: ho === undefined ? null : (JSON.parse(ho.value) as HandoverRecord) };
        }),
      tryAcquire: (record, lease) =>
        call(() => {
          if (this.keys.has('holder')) return { won: false as const, holder: holder() };
          if (!this.leases.has(lease)) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', 'fake etcd: lease not found');
          this.revision += 1;
          this.keys.set('holder', { value: JSON.stringify(record), lease, createRevision: this.revision });
          return { won: true as const, term: String(this.revision) };
        }),
      writeHandover: (record, ttl) =>
        call(() => {
          const id = String(this.nextLease++);
          this.leases.set(id, this.clock.now() + ttl * 1000);
          this.revision += 1;
          this.keys.set('handover', { value: JSON.stringify(record), lease: id, createRevision: this.revision });
        }),
    };
  }
}

/** The address on one host, with the kernel's lifetime modelled at its worst (lifetime + 250 ms). */
export class FakeAddress implements AddressPort {
  /** Monotonic time the kernel drops it, or null when absent. */
  expiresAt: number | null = null;
  /** A permanent copy (present at start, hand-added). */
  permanent = false;
  renewMs = 3;
  failRenew = false;
  ops: string[] = [];
  constructor(
    readonly clock: FakeClock,
    readonly lifetimeSeconds = 1,
  ) {}
  present(): boolean {
    return this.permanent || (this.expiresAt !== null && this.clock.now() < this.expiresAt);
  }
  async renew(): Promise<void> {
    this.ops.push('renew');
    this.clock.advance(this.renewMs);
    if (this.failRenew) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', 'fake ip: failed');
    this.expiresAt = this.clock.now() + this.lifetimeSeconds * 1000 + KERNEL_EXPIRY_SLACK_MS;
  }
  async remove(): Promise<boolean> {
    this.ops.push('remove');
    const was = this.present();
    this.expiresAt = null;
    this.permanent = false;
    return was;
  }
  async list() {
    return this.present() ? [{ address: '198.18.1.100', prefixLength: 32, validLifetimeSeconds: this.permanent ? null : 1 }] : [];
  }
}

export class FakeArp implements ArpPort {
  count = 0;
  announce(): void {
    this.count += 1;
  }
}

export class FakeHealth implements HealthSignal {
  ok = true;
  healthy(): boolean {
    return this.ok;
  }
}

/** Records events. */
export function eventLog(): { events: { kind: VipEventKind; message: string; data: Record<string, unknown> }[]; sink: (kind: VipEventKind, message: string, data: Record<string, unknown>) => void } {
  const events: { kind: VipEventKind; message: string; data: Record<string, unknown> }[] = [];
  return { events, sink: (kind, message, data) => events.push({ kind, message, data }) };
}
