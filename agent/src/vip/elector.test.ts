import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { resolveVipConfig, type VipConfig } from './config.js';
import { createVipElector, type VipElector } from './elector.js';
import { type EtcdFaults, eventLog, FakeAddress, FakeArp, FakeClock, FakeEtcd, FakeHealth } from './testing.js';

const baseFile = {
  name: 'api',
  address: '198.18.1.100',
  interface: 'eth0',
  etcd: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' },
};

function config(extra: Record<string, unknown> = {}): VipConfig {
  return resolveVipConfig({ ...baseFile, ...extra });
}

interface Host {
  name: string;
  elector: VipElector;
  address: FakeAddress;
  arp: FakeArp;
  health: FakeHealth;
  faults: EtcdFaults;
  events: ReturnType<typeof eventLog>['events'];
}

function cluster(names: string[], cfg = config()) {
  const clock = new FakeClock();
  const etcd = new FakeEtcd(clock);
  const hosts = new Map<string, Host>();
  for (const name of names) {
    const address = new FakeAddress(clock, cfg.addressLifetimeSeconds);
    const arp = new FakeArp();
    const health = new FakeHealth();
    const faults: EtcdFaults = {};
    const { events, sink } = eventLog();
    const elector = createVipElector({ config: cfg, host: name, address, arp, store: etcd.port(faults), health, clock, log: silentLogger(), onEvent: sink });
    hosts.set(name, { name, elector, address, arp, health, faults, events });
  }
  const h = (name: string) => hosts.get(name)!;
  const present = () => [...hosts.values()].filter((x) => x.address.present()).map((x) => x.name);
  /**
   * Runs every live elector's step for `ms` of fake time in 10 ms slices, checking the safety
   * property at every slice: at most one host has the address, and no host has it while another
   * holds the lease.
   */
  const run = async (ms: number, only: string[] = names) => {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      for (const name of only) {
        await h(name).elector.step();
        expect(present().length).toBeLessThanOrEqual(1);
      }
      clock.advance(10);
      etcd.expire();
      expect(present().length).toBeLessThanOrEqual(1);
      const holderKey = etcd.keys.get('holder');
      if (holderKey !== undefined) {
        const holder = (JSON.parse(holderKey.value) as { host: string }).host;
        for (const p of present()) expect(p).toBe(holder);
      }
    }
  };
  /** As the health monitor does: flip the verdict and tell the elector. */
  const setHealth = (name: string, ok: boolean) => {
    h(name).health.ok = ok;
    h(name).elector.healthChanged();
  };
  const start = async () => {
    for (const x of hosts.values()) await x.elector.start({ loop: false });
  };
  /** Starts every elector with only `holder` healthy for 100 ms (so it wins), then the others become healthy candidates. */
  const startWithHolder = async (holder: string) => {
    await start();
    const others = names.filter((n) => n !== holder);
    for (const n of others) setHealth(n, false);
    await run(100);
    for (const n of others) setHealth(n, true);
  };
  return { clock, etcd, hosts, h, present, run, start, startWithHolder, setHealth };
}

describe('VIP elector', () => {
  it('acquires: one holder, the address added once with a gratuitous ARP, term from etcd', async () => {
    const c = cluster(['a', 'b']);
    await c.start();
    await c.run(200);
    expect(c.present()).toHaveLength(1);
    const holder = c.present()[0]!;
    const other = holder === 'a' ? 'b' : 'a';
    expect(c.h(holder).elector.status()).toMatchObject({ state: 'holder', holder, healthy: true });
    expect(c.h(other).elector.status()).toMatchObject({ state: 'candidate', holder });
    expect(c.h(holder).arp.count).toBe(1);
    const acquired = c.h(holder).events.filter((e) => e.kind === 'vip.acquired');
    expect(acquired).toHaveLength(1);
    expect(acquired[0]!.data.term).toBe(c.h(holder).elector.status().term);
  });

  it('writes a heartbeat and renews the address every 250 ms, and keeps the holder for a long time', async () => {
    const c = cluster(['a']);
    await c.start();
    await c.run(100);
    const renewsBefore = c.h('a').address.ops.filter((o) => o === 'renew').length;
    const revisionBefore = c.etcd.keys.get('holder')!.modRevision;
    await c.run(10_000);
    // One write per renewal; the key (and the term) stay the same.
    expect(c.etcd.keys.get('holder')!.modRevision - revisionBefore).toBeGreaterThanOrEqual(37);
    expect(String(c.etcd.keys.get('holder')!.createRevision)).toBe(c.h('a').elector.status().term);
    const renews = c.h('a').address.ops.filter((o) => o === 'renew').length - renewsBefore;
    // Every ~250 ms (TTL/8): about 40 in 10 s.
    expect(renews).toBeGreaterThanOrEqual(37);
    expect(renews).toBeLessThanOrEqual(42);
    expect(c.present()).toEqual(['a']);
    expect(c.h('a').arp.count).toBe(1);
    const s = c.h('a').elector.status();
    expect(s.leaseLeftMs).toBeGreaterThan(1_000);
    expect(s.lastRenewRttMs).toBeLessThan(10);
  });

  it('does not renew the address after a heartbeat slower than maxRenewRttMs; the slow holder is not taken over', async () => {
    const c = cluster(['a', 'b']);
    await c.startWithHolder('a');
    const renewsBefore = c.h('a').address.ops.filter((o) => o === 'renew').length;
    c.h('a').faults.rttMs = 600; // > 500
    await c.run(1_500);
    // Its heartbeats still land, so b sees a live holder and waits.
    expect(c.h('b').elector.status()).toMatchObject({ state: 'candidate', holder: 'a' });
    expect(c.h('a').address.ops.filter((o) => o === 'renew').length).toBe(renewsBefore);
    expect(c.present()).toEqual([]); // the kernel dropped it
    expect(c.h('a').events.some((e) => e.kind === 'vip.renew-failed')).toBe(true);
    // Still the holder (slow is not dead); as soon as heartbeats are fast again the address returns.
    expect(c.h('a').elector.status().state).toBe('holder');
    c.h('a').faults.rttMs = 2;
    await c.run(700);
    expect(c.present()).toEqual(['a']);
    expect(c.h('a').arp.count).toBe(2);
  });

  it('a holder that cannot write its heartbeat loses the address to the kernel before anyone may take over, then steps down', async () => {
    const c = cluster(['a', 'b']);
    await c.start();
    c.setHealth('b', false);
    await c.run(100);
    expect(c.present()).toEqual(['a']);
    c.setHealth('b', true);
    c.h('a').faults.all = 'fail'; // its etcd member is cut off
    const cutAt = c.clock.now();
    // No candidate can take over before the last heartbeat was written + the hold timeout.
    const takeoverNotBefore = c.etcd.holderWrittenAt()! + 2_000;
    let goneAt: number | null = null;
    let steppedDownAt: number | null = null;
    let bAt: number | null = null;
    for (let i = 0; i < 400 && bAt === null; i++) {
      await c.run(10);
      if (goneAt === null && !c.h('a').address.present()) goneAt = c.clock.now();
      if (steppedDownAt === null && c.h('a').elector.status().state !== 'holder') steppedDownAt = c.clock.now();
      if (c.h('b').address.present()) bAt = c.clock.now();
    }
    expect(goneAt).not.toBeNull();
    expect(goneAt!).toBeLessThanOrEqual(takeoverNotBefore);
    expect(steppedDownAt!).toBeLessThanOrEqual(takeoverNotBefore);
    expect(bAt!).toBeGreaterThanOrEqual(takeoverNotBefore);
    // Hold timeout + one poll + the calls: no 500 ms lessor tick as with an etcd lease.
    expect(bAt! - cutAt).toBeLessThan(2_100);
    expect(c.h('a').events.map((e) => e.kind)).toEqual(expect.arrayContaining(['vip.renew-failed', 'vip.released']));
  });

  it('a frozen holder (no clean-up at all) is fenced by the kernel lifetime; one of two candidates takes over, term grows', async () => {
    const c = cluster(['a', 'b', 'c']);
    await c.startWithHolder('a');
    const termA = BigInt(c.h('a').elector.status().term!);
    c.h('a').elector.abandon();
    await c.run(3_000, ['b', 'c']);
    expect(c.present()).toHaveLength(1);
    const winner = c.present()[0]!;
    expect(['b', 'c']).toContain(winner);
    expect(BigInt(c.h(winner).elector.status().term!)).toBeGreaterThan(termA);
  });

  it('a candidate counts staleness from its own first sight of the holder key, never from before', async () => {
    const c = cluster(['a', 'b']);
    await c.start();
    c.setHealth('b', false);
    await c.run(100, ['a']);
    c.h('a').elector.abandon(); // frozen: its key stops changing now
    await c.run(1_500, []);
    // b only starts reading now: 1.5 s of the key's staleness happened before it looked.
    c.setHealth('b', true);
    const firstLook = c.clock.now();
    let bAt: number | null = null;
    for (let i = 0; i < 300 && bAt === null; i++) {
      await c.run(10, ['b']);
      if (c.h('b').address.present()) bAt = c.clock.now();
    }
    expect(bAt! - firstLook).toBeGreaterThanOrEqual(2_000);
    expect(bAt! - firstLook).toBeLessThan(2_150);
  });

  it('an acquisition whose answer was lost is recognised by its nonce and adopted; the address comes after a heartbeat', async () => {
    const c = cluster(['a']);
    c.h('a').faults.dropAcquireAnswers = 1; // the create is applied, its answer never arrives
    await c.start();
    await c.run(30);
    expect(c.etcd.keys.has('holder')).toBe(true);
    expect(c.present()).toEqual([]);
    await c.run(200);
    expect(c.present()).toEqual(['a']);
    expect(c.h('a').events.filter((e) => e.kind === 'vip.acquired').map((e) => e.message)).toEqual([expect.stringContaining('answer was lost')]);
  });

  it('a holder whose health check fails resigns at once: address removed, key deleted, the other takes over', async () => {
    const c = cluster(['a', 'b']);
    await c.startWithHolder('a');
    c.setHealth('a', false);
    // The delete lets b in at its next poll (50 ms), not after the hold timeout.
    await c.run(70);
    expect(c.present()).toEqual(['b']);
    expect(c.h('a').events.at(-1)?.kind).toBe('vip.resigned');
    expect(c.h('a').elector.status().state).toBe('unhealthy');
  });

  it('an unhealthy host never campaigns until it has risen', async () => {
    const c = cluster(['a']);
    await c.start();
    c.setHealth('a', false);
    await c.run(3_000);
    expect(c.present()).toEqual([]);
    expect(c.h('a').elector.status().state).toBe('unhealthy');
    c.setHealth('a', true);
    await c.run(100);
    expect(c.present()).toEqual(['a']);
  });

  it('hands over to the chosen host: others defer, the gap is about one poll interval', async () => {
    const c = cluster(['a', 'b', 'c']);
    await c.startWithHolder('a');
    await c.run(1_000);
    expect(c.present()).toEqual(['a']);
    await c.h('a').elector.handover('c');
    const t0 = c.clock.now();
    let cAt: number | null = null;
    for (let i = 0; i < 50 && cAt === null; i++) {
      await c.run(10);
      if (c.h('c').address.present()) cAt = c.clock.now();
    }
    expect(cAt! - t0).toBeLessThanOrEqual(70);
    await c.run(2_000);
    expect(c.present()).toEqual(['c']);
    expect(c.h('b').events.some((e) => e.kind === 'vip.acquired')).toBe(false);
    expect(c.h('a').events.at(-1)).toMatchObject({ kind: 'vip.released', data: { reason: 'handover' } });
  });

  it('the target of a handover polls every 10 ms while the holder is releasing, others stay at 50 ms', async () => {
    const c = cluster(['a', 'b', 'c']);
    await c.startWithHolder('a');
    await c.run(1_000);
    expect(c.present()).toEqual(['a']);
    // A handover to b written, the holder not yet gone (as between the holder's two calls).
    await c.etcd.port().writeHandover({ to: 'b', until: c.clock.wallNow() + 2_000 }, 2, 1_000);
    const before = { b: c.h('b').faults.reads ?? 0, c: c.h('c').faults.reads ?? 0 };
    await c.run(500, ['b', 'c']);
    const reads = { b: (c.h('b').faults.reads ?? 0) - before.b, c: (c.h('c').faults.reads ?? 0) - before.c };
    expect(reads.b).toBeGreaterThanOrEqual(30);
    expect(reads.c).toBeLessThanOrEqual(11);
  });

  it('refuses a handover from a host that does not hold the VIP', async () => {
    const c = cluster(['a', 'b']);
    await c.start();
    c.setHealth('b', false);
    await c.run(100);
    await expect(c.h('b').elector.handover('a')).rejects.toMatchObject({ code: 'BALLAST_ERR_VIP_NOT_HOLDER' });
  });

  it('an excluded host (candidate: false) releases the VIP and stays out', async () => {
    const c = cluster(['a', 'b']);
    await c.startWithHolder('a');
    c.h('a').elector.update(config({ candidate: false }));
    await c.run(3_000);
    expect(c.present()).toEqual(['b']);
    expect(c.h('a').elector.status()).toMatchObject({ state: 'excluded', holder: 'b' });
    expect(c.h('a').events.at(-1)).toMatchObject({ kind: 'vip.released', data: { reason: 'excluded' } });
  });

  it('removes a stale address at start and reports it', async () => {
    const c = cluster(['a']);
    c.h('a').address.permanent = true;
    c.setHealth('a', false);
    await c.start();
    expect(c.present()).toEqual([]);
    expect(c.h('a').events.map((e) => e.kind)).toEqual(['vip.stale-removed']);
  });

  it('deletes the holder key a previous run of the same host left behind, so a restart does not wait for the hold timeout', async () => {
    const c = cluster(['a']);
    await c.start();
    await c.run(100);
    const first = c.h('a').elector;
    first.abandon();
    // The agent restarts on the same host: a new elector with the same ports.
    const again = cluster(['a']);
    const { sink } = eventLog();
    const restarted = createVipElector({ config: config(), host: 'a', address: c.h('a').address, arp: new FakeArp(), store: c.etcd.port(), health: new FakeHealth(), clock: c.clock, log: silentLogger(), onEvent: sink });
    void again;
    await restarted.start({ loop: false });
    expect(c.present()).toEqual([]);
    for (let i = 0; i < 10; i++) {
      await restarted.step();
      c.clock.advance(10);
    }
    expect(restarted.status().state).toBe('holder');
  });

  it('terms strictly increase across acquisitions', async () => {
    const c = cluster(['a', 'b']);
    await c.start();
    const terms: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      await c.run(600);
      const holder = c.present()[0]!;
      terms.push(BigInt(c.h(holder).elector.status().term!));
      await c.h(holder).elector.handover(holder === 'a' ? 'b' : 'a');
    }
    for (let i = 1; i < terms.length; i++) expect(terms[i]!).toBeGreaterThan(terms[i - 1]!);
  });

  it('a renewal that finishes past its safe budget is undone at once', async () => {
    const c = cluster(['a']);
    await c.start();
    await c.run(100);
    c.h('a').address.renewMs = 800; // `ip` stuck on a loaded host
    await c.run(600);
    expect(c.h('a').address.present()).toBe(false);
    expect(c.h('a').events.some((e) => e.kind === 'vip.renew-failed' && /budget/.test(e.message))).toBe(true);
  });

  it('stop releases: address first, then the holder key, so the other takes over at its next poll', async () => {
    const c = cluster(['a', 'b']);
    await c.startWithHolder('a');
    await c.h('a').elector.stop();
    expect(c.h('a').address.ops.at(-1)).toBe('remove');
    expect(c.etcd.keys.has('holder')).toBe(false);
    await c.run(100, ['b']);
    expect(c.present()).toEqual(['b']);
    expect(c.h('a').elector.status().state).toBe('idle');
  });
});
