/**
 * The manager's maintenance side (req.vip): status report, move, exclude/include with the
 * persistent marker. Two real managers with real electors and real timers share one in-memory
 * etcd (testing.ts) on a real-time clock, with health kind `none`, so nothing here needs root.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { fakeExec, makeTempRoot } from '../tasks/testing.js';
import type { VipBackendFactory } from './backend.js';
import { VIP_EXCLUDED_PATH } from './exclusion.js';
import { createVipManager, type VipManager } from './manager.js';
import { answerVipRequest, type VipPort } from './requests.js';
import { FakeAddress, FakeArp, FakeClock, FakeEtcd } from './testing.js';

const CONFIG = 'name: api\naddress: 198.18.1.100\ninterface: eth0\netcd:\n  caFile: /etc/ballast/vip/ca.crt\n  certFile: /etc/ballast/vip/c.crt\n  keyFile: /etc/ballast/vip/c.key\nhealth:\n  kind: none\n';

/** FakeClock's shape on real time: the managers run real timers. */
function realtimeClock(): FakeClock {
  return Object.assign(new FakeClock(), { now: () => performance.now(), wallNow: () => Date.now(), advance: () => undefined });
}

async function until(what: string, fn: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const exists = (p: string) => stat(p).then(() => true, () => false);

describe('VIP manager maintenance (req.vip)', () => {
  const roots: string[] = [];
  const managers: VipManager[] = [];
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.stop();
    for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
  });

  const clock = realtimeClock();
  const etcd = new FakeEtcd(clock);
  const addresses = new Map<string, FakeAddress>();

  async function host(name: string, root?: string): Promise<{ m: VipManager; root: string; address: FakeAddress }> {
    const dir = root ?? (await makeTempRoot(`ballast-vip-${name}-`));
    if (root === undefined) {
      roots.push(dir);
      await mkdir(join(dir, 'etc/ballast/vip'), { recursive: true });
      for (const f of ['ca.crt', 'c.crt', 'c.key']) await writeFile(join(dir, 'etc/ballast/vip', f), 'not a real PEM\n');
      await writeFile(join(dir, 'etc/ballast/vip.yaml'), CONFIG);
    }
    const address = addresses.get(name) ?? new FakeAddress(clock);
    addresses.set(name, address);
    const backend: VipBackendFactory = () => ({ store: etcd.port(), address, arp: new FakeArp(), setTls: () => undefined, close: () => undefined });
    const m = createVipManager({ root: dir, host: name, exec: fakeExec(() => ({ code: 0, stdout: '', stderr: '' })), log: silentLogger(), onEvent: () => undefined, backend, clock });
    managers.push(m);
    await m.tick();
    return { m, root: dir, address };
  }

  it('reports, moves, excludes (handing over), survives a restart excluded, resigns, includes', async () => {
    const cp1 = await host('cp1');
    await until('cp1 holds', () => cp1.m.report().state === 'holder');
    const cp2 = await host('cp2');
    await until('cp2 is a candidate', () => cp2.m.report().state === 'candidate');

    // Status: everything the controller shows, with the renewal window filling up.
    await until('a renewal', () => cp1.m.report().renewSamples > 0);
    const s1 = cp1.m.report();
    expect(s1).toMatchObject({ host: 'cp1', configured: true, name: 'api', address: '198.18.1.100', prefixLength: 32, interface: 'eth0', state: 'holder', holder: 'cp1', healthy: true, candidate: true, excluded: false });
    expect(s1.healthMessage).toMatch(/kind none/);
    expect(s1.term).toMatch(/^[0-9]+$/);
    expect(s1.leaseLeftMs).toBeGreaterThan(1000);
    expect(s1.renewRttP50Ms).toEqual(expect.any(Number));
    expect(s1.renewRttP99Ms).toBeGreaterThanOrEqual(s1.renewRttP50Ms ?? 0);
    expect(cp2.m.report()).toMatchObject({ state: 'candidate', holder: 'cp1', leaseLeftMs: null, renewSamples: 0, renewRttP99Ms: null });

    // Move: only the holder can; the target takes over within about one poll interval.
    await expect(cp2.m.move('cp1')).rejects.toMatchObject({ code: 'BALLAST_ERR_VIP_NOT_HOLDER' });
    expect(await cp1.m.move('cp2')).toEqual({ from: 'cp1', to: 'cp2', term: s1.term });
    await until('cp2 holds', () => cp2.m.report().state === 'holder');
    expect([cp1.address.present(), cp2.address.present()]).toEqual([false, true]);
    expect(BigInt(cp2.m.report().term ?? '0')).toBeGreaterThan(BigInt(s1.term ?? '0'));

    // Exclude the holder with a target: hand over first, then stop campaigning; the marker persists.
    const ex = await cp2.m.exclude({ to: 'cp1', reason: 'test' });
    expect(ex).toMatchObject({ wasHolder: true, handedOverTo: 'cp1', status: { state: 'excluded', excluded: true, candidate: true } });
    expect(JSON.parse(await readFile(join(cp2.root, VIP_EXCLUDED_PATH), 'utf8'))).toMatchObject({ host: 'cp2', reason: 'test' });
    await until('cp1 holds again', () => cp1.m.report().state === 'holder');

    // A restarted agent finds the marker and stays out.
    await cp2.m.stop();
    const cp2b = await host('cp2', cp2.root);
    await until('cp2 restarted', () => cp2b.m.report().state !== 'idle');
    expect(cp2b.m.report()).toMatchObject({ state: 'excluded', excluded: true });

    // Exclude the holder with nobody fit to take over: it resigns; no one holds.
    const resign = await cp1.m.exclude({});
    expect(resign).toMatchObject({ wasHolder: true, handedOverTo: null, status: { state: 'excluded' } });
    expect(cp1.address.present()).toBe(false);
    expect(etcd.keys.has('holder')).toBe(false);

    // Include: campaigns again and wins.
    expect(await cp2b.m.include()).toMatchObject({ excluded: false });
    expect(await exists(join(cp2.root, VIP_EXCLUDED_PATH))).toBe(false);
    await until('cp2 holds after include', () => cp2b.m.report().state === 'holder');
  });

  it('honours a marker created by hand on the host (no controller needed), and reports an idle host', async () => {
    const cp3 = await host('cp3');
    await until('cp3 holds', () => cp3.m.report().state === 'holder');
    await writeFile(join(cp3.root, VIP_EXCLUDED_PATH), '');
    await cp3.m.tick();
    await until('cp3 lets go', () => cp3.m.report().state === 'excluded');
    expect(cp3.address.present()).toBe(false);
    await rm(join(cp3.root, VIP_EXCLUDED_PATH));
    await cp3.m.tick();
    await until('cp3 holds again', () => cp3.m.report().state === 'holder');

    await rm(join(cp3.root, 'etc/ballast/vip.yaml'));
    await cp3.m.tick();
    expect(cp3.m.report()).toMatchObject({ configured: false, name: null, state: 'idle', healthMessage: 'no VIP configured' });
    await expect(cp3.m.move('cp1')).rejects.toMatchObject({ code: 'BALLAST_ERR_VIP_NOT_CONFIGURED' });
  });
});

describe('answerVipRequest', () => {
  it('dispatches every action to the port', async () => {
    const calls: string[] = [];
    const status = { host: 'cp1' } as ReturnType<VipPort['report']>;
    const port: VipPort = {
      report: () => {
        calls.push('report');
        return status;
      },
      move: async (to) => {
        calls.push(`move ${to}`);
        return { from: 'cp1', to, term: '7' };
      },
      exclude: async (o) => {
        calls.push(`exclude ${o.to ?? '-'}`);
        return { status, wasHolder: false, handedOverTo: null };
      },
      include: async () => {
        calls.push('include');
        return status;
      },
    };
    const base = { type: 'req.vip' as const, id: 'c-1', timeoutMs: 1000 };
    expect(await answerVipRequest({ ...base, action: 'status' }, port)).toBe(status);
    expect(await answerVipRequest({ ...base, action: 'move', to: 'cp2' }, port)).toEqual({ from: 'cp1', to: 'cp2', term: '7' });
    await answerVipRequest({ ...base, action: 'exclude', to: 'cp3' }, port);
    await answerVipRequest({ ...base, action: 'exclude' }, port);
    await answerVipRequest({ ...base, action: 'include' }, port);
    expect(calls).toEqual(['report', 'move cp2', 'exclude cp3', 'exclude -', 'include']);
  });
});
