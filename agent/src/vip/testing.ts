/**
 * Hand-written fakes of the VIP ports for unit tests: a fake clock, an in-memory etcd (revisions,
 * conditional writes, the handover lease expiring on that clock), and an address whose kernel
 * lifetime is modelled pessimistically (it lives lifetime + 250 ms after its last renewal, the
 * worst case measured).
 */
import { BallastError } from '../../../shared/src/errors.js';
import { KERNEL_EXPIRY_SLACK_MS } from './config.js';
import type { AddressPort, ArpPort, Clock, ElectionStore, ElectionView, HandoverRecord, HealthSignal, HolderRecord, HolderValue, VipEventKind } from './ports.js';

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
  modRevision: number;
  /** Fake-clock time of the last write. */
  writtenAt: number;
}

/** What a test may make the next calls do. */
export interface EtcdFaults {
  /** Added to the fake clock inside each call (a round trip). */
  rttMs?: number;
  /** The holder's heartbeat writes fail (no answer). */
  beat?: 'fail' | null;
  /** Every call fails (member cut off). */
  all?: 'fail' | null;
  /** The next N acquisitions are applied but their answers are lost (the call fails after etcd did it). */
  dropAcquireAnswers?: number;
  /** Counts this port's reads (set by the fake). */
  reads?: number;
}

/**
 * One etcd shared by several electors: the holder key (no lease) and the handover key (on a lease
 * that expires exactly TTL after its grant). Revisions grow with every write, as etcd's do.
 */
export class FakeEtcd {
  revision = 1;
  nextLease = 100;
  leases = new Map<string, number>(); // id → expiresAt
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
  /** Fake-clock time of the holder key's last write (the staleness clock starts no earlier), or null. */
  holderWrittenAt(): number | null {
    return this.keys.get('holder')?.writtenAt ?? null;
  }
  private write(key: string, value: string, lease = '0'): number {
    this.revision += 1;
    const old = this.keys.get(key);
    this.keys.set(key, { value, lease, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision, writtenAt: this.clock.now() });
    return this.revision;
  }

  /** A port for one elector; `faults` is read on every call. */
  port(faults: EtcdFaults = {}): ElectionStore {
    const call = async <T>(fn: () => T, kind?: 'beat' | 'acquire'): Promise<T> => {
      if (faults.all === 'fail' || (kind === 'beat' && faults.beat === 'fail')) {
        this.clock.advance(faults.rttMs ?? 1);
        throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', 'fake etcd: no answer');
      }
      // etcd processes the request halfway through the round trip.
      const half = (faults.rttMs ?? 2) / 2;
      this.clock.advance(half);
      this.expire();
      const out = fn();
      this.clock.advance(half);
      if (kind === 'acquire' && (faults.dropAcquireAnswers ?? 0) > 0) {
        faults.dropAcquireAnswers = (faults.dropAcquireAnswers ?? 0) - 1;
        throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', 'fake etcd: the answer was lost');
      }
      return out;
    };
    const holder = (): HolderRecord | null => {
      const k = this.keys.get('holder');
      if (k === undefined) return null;
      const v = JSON.parse(k.value) as HolderValue;
      return { host: v.host, since: v.since, nonce: v.nonce, term: String(k.createRevision), revision: String(k.modRevision) };
    };
    return {
      read: () =>
        call((): ElectionView => {
          faults.reads = (faults.reads ?? 0) + 1;
          const ho = this.keys.get('handover');
          return { holder: holder(), handover: ho === undefined ? null : (JSON.parse(ho.value) as HandoverRecord) };
        }),
      tryAcquire: (value) =>
        call(() => {
          if (this.keys.has('holder')) return { won: false as const, holder: holder() };
          return { won: true as const, term: String(this.write('holder', JSON.stringify(value))) };
        }, 'acquire'),
      beat: (term, value) =>
        call(() => {
          const k = this.keys.get('holder');
          if (k === undefined || String(k.createRevision) !== term) return false;
          this.write('holder', JSON.stringify(value));
          return true;
        }, 'beat'),
      deleteHolder: (condition) =>
        call(() => {
          const k = this.keys.get('holder');
          if (k === undefined) return false;
          if ('create' in condition ? String(k.createRevision) !== condition.create : String(k.modRevision) !== condition.mod) return false;
          this.keys.delete('holder');
          this.revision += 1;
          return true;
        }),
      writeHandover: (record, ttl) =>
        call(() => {
          const id = String(this.nextLease++);
          this.leases.set(id, this.clock.now() + ttl * 1000);
          this.write('handover', JSON.stringify(record), id);
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
