/**
 * `ballastctl vip …` in-process against the real API (buildApp on 127.0.0.1, plain HTTP) backed by
 * the real VipService and fake agents: text and JSON output, refusals and exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { caPublicKeyHash } from '../../../shared/src/pki.js';
import { VipMoveResponseSchema, VipStatusResponseSchema } from '../../../shared/src/vip-api.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { buildApp } from '../../../controller/src/api/app.js';
import { createMetrics } from '../../../controller/src/metrics.js';
import { createCa } from '../../../controller/src/pki/ca.js';
import { openStore, type Store } from '../../../controller/src/store/store.js';
import { VipService } from '../../../controller/src/vip/service.js';
import { fakeVipFleet, vipHealth } from '../../../controller/src/vip/testing.js';
import { runCli } from '../cli.js';
import { changeText, moveText, vipHeader, vipTable } from './vip.js';

const dir = mkdtempSync(join(tmpdir(), 'ballastctl-vip-'));
let store: Store;
let app: FastifyInstance;
let vip: VipService;
let fleet: ReturnType<typeof fakeVipFleet>;
let url = '';
let admin = '';
let viewer = '';

beforeAll(async () => {
  store = openStore({ path: join(dir, 'ballast.db') });
  admin = store.operators.ensureAdmin() ?? '';
  viewer = store.operators.create({ name: 'vic', role: 'viewer' }).token;
  fleet = fakeVipFleet(['host1', 'host2', 'host3']);
  vip = new VipService({ hosts: fleet.directory, events: store.events, metrics: createMetrics({ collectProcess: false }), log: silentLogger(), movePollMs: 5 });
  vip.seed(['host1', 'host2', 'host3'].map((n) => ({ id: `h_${n}`, health: vipHealth() })));
  const ca = await createCa({ commonName: 'test-ca' });
  app = buildApp({ store, tracker: fleet.tracker, metrics: createMetrics({ collectProcess: false }), log: silentLogger(), ca, caHash: caPublicKeyHash(ca.certPem), serverUrl: () => url, now: Date.now, vip });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  vip.close();
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fleet.cluster.holder = 'host2';
  fleet.cluster.handover = null;
  for (const a of fleet.agents.values()) Object.assign(a, { healthy: true, excluded: false, candidate: true, mode: 'ok' });
});

async function ctl(argv: string[], token = admin): Promise<{ code: number; out: string; err: string }> {
  const config = join(dir, 'ctl.conf');
  const ca = '"-----BEGIN CERTIFICATE-----\\nunused for http\\n-----END CERTIFICATE-----\\n"';
  writeFileSync(config, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${url}\ncaCert: ${ca}\ntoken: ${token}\n`, { mode: 0o600 });
  const r = { code: -1, out: '', err: '' };
  r.code = await runCli(argv, { stdout: { write: (s: string) => (r.out += s) }, stderr: { write: (s: string) => (r.err += s) }, env: { BALLAST_CONFIG: config }, homedir: dir });
  return r;
}

describe('ballastctl vip', () => {
  it('status: a header line and the candidates table', async () => {
    const r = await ctl(['vip', 'status'], viewer);
    expect(r).toMatchObject({ code: 0, err: '' });
    const term = fleet.cluster.term;
    expect(r.out).toBe(
      `VIP 198.18.0.250 (api) held by host2, term ${term}, hold 1.6 s left\n\n` +
        'HOST    STATE       HEALTHY   CANDIDATE   RENEW-P99\n' +
        'host1   candidate   yes       yes         <none>\n' +
        'host2   holder      yes       yes         9.5 ms\n' +
        'host3   candidate   yes       yes         <none>\n',
    );
  });

  it('status -o json is the documented VipStatusResponse', async () => {
    const r = await ctl(['vip', 'status', '-o', 'json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as unknown;
    expect(compiledCheck(VipStatusResponseSchema).Check(doc)).toBe(true);
    expect(doc).toMatchObject({ items: [{ name: 'api', holder: 'host2', holderSource: 'holder', candidates: [{ host: 'host1', reachable: true }, {}, {}] }] });
  });

  it('move --to: prints the handover; -o json is VipMoveResponse; refusals exit 1 with the reason', async () => {
    const r = await ctl(['vip', 'move', '--to', 'host1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^moved from host2 to host1 in \\d+ ms, term ${fleet.cluster.term}\\n$`));
    const again = await ctl(['vip', 'move', '--to', 'host3', '-o', 'json']);
    const doc = JSON.parse(again.out) as unknown;
    expect(compiledCheck(VipMoveResponseSchema).Check(doc)).toBe(true);
    expect(doc).toMatchObject({ vip: 'api', from: 'host1', to: 'host3', moved: true });

    fleet.agent('host1').healthy = false;
    fleet.agent('host1').healthMessage = 'readyz 500';
    const refused = await ctl(['vip', 'move', '--to', 'host1']);
    expect(refused).toEqual({ code: 1, out: '', err: "error: BALLAST_ERR_VIP_TARGET_UNFIT: failed to move the VIP to host1: host1's VIP health check fails: readyz 500\n" });
    const denied = await ctl(['vip', 'move', '--to', 'host1'], viewer);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/^error: forbidden: /);
  });

  it('exclude / include HOST', async () => {
    const ex = await ctl(['vip', 'exclude', 'host2']);
    expect(ex).toMatchObject({ code: 0, out: 'host2 excluded from the VIP election; the VIP was handed over to host1\n' });
    const inc = await ctl(['vip', 'include', 'host2', '-o', 'json']);
    expect(JSON.parse(inc.out)).toMatchObject({ action: 'include', host: 'host2', vip: 'api', candidate: { excluded: false } });
    const missing = await ctl(['vip', 'exclude', 'nope']);
    expect(missing).toMatchObject({ code: 1, err: 'error: BALLAST_ERR_NOT_FOUND: host "nope" is not enrolled\n' });
  });

  it.each([
    [['vip'], /^error: missing command for 'ballastctl vip': one of status, move, exclude, include/],
    [['vip', 'move'], /^error: required option '--to <host>' not specified/],
    [['vip', 'exclude'], /^error: missing required argument 'host'/],
    [['vip', 'status', '-o', 'wide'], /argument 'wide' is invalid/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const r = await ctl(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('has --help everywhere', async () => {
    for (const argv of [['vip'], ['vip', 'status'], ['vip', 'move'], ['vip', 'exclude'], ['vip', 'include']]) {
      const r = await ctl([...argv, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: ballastctl vip/);
    }
  });

  it('formats the texts', () => {
    const view = { name: 'api', address: '198.18.0.250', prefixLength: 32, interface: 'eth0', holder: null, holderSource: 'none' as const, term: null, leaseLeftMs: null, candidates: [] };
    expect(vipHeader(view)).toBe('VIP 198.18.0.250 (api) has no holder');
    expect(vipHeader({ ...view, holder: 'h1', holderSource: 'observed', term: '7' })).toBe('VIP 198.18.0.250 (api) held by h1, term 7 (as etcd names it; the holder itself did not answer)');
    expect(moveText({ vip: 'api', from: 'h1', to: 'h1', moved: false, previousTerm: '7', term: '7', tookMs: 0 })).toBe('h1 already holds VIP api, term 7; nothing to do\n');
    const candidate = { host: 'h1', reachable: true, error: null, observedAt: null, state: 'excluded' as const, healthy: true, healthMessage: '', candidate: true, excluded: true, sees: null, lastRenewRttMs: null, renewRttP50Ms: null, renewRttP99Ms: null };
    expect(changeText({ action: 'exclude', host: 'h1', vip: 'api', wasHolder: true, handedOverTo: null, candidate })).toBe('h1 excluded from the VIP election; it held the VIP and resigned (no fit candidate to hand over to)\n');
  });

  it("marks an unreachable host's row as its stale last report, with its age, never as a healthy holder", () => {
    const now = Date.parse('2026-01-01T12:05:00Z');
    const base = { error: null, healthMessage: '', candidate: true, excluded: false, lastRenewRttMs: null, renewRttP50Ms: null, renewRttP99Ms: 3 };
    const view = {
      name: 'api',
      address: '198.18.0.250',
      prefixLength: 32,
      interface: 'eth0',
      holder: 'h2',
      holderSource: 'holder' as const,
      term: '9',
      leaseLeftMs: 1500,
      candidates: [
        { ...base, host: 'h1', reachable: false, error: { code: 'BALLAST_ERR_HOST_UNREACHABLE', message: 'not connected' }, observedAt: '2026-01-01T12:02:00Z', state: 'holder' as const, healthy: true, sees: 'h1' },
        { ...base, host: 'h2', reachable: true, observedAt: '2026-01-01T12:05:00Z', state: 'holder' as const, healthy: true, sees: 'h2' },
      ],
    };
    const [header, h1, h2] = vipTable(view, false, now).trimEnd().split('\n');
    expect(header).toMatch(/^HOST\s+STATE\s+HEALTHY/);
    expect(h1).toMatch(/^h1\s+unreachable \(stale, 3m old: was holder\)\s+\? \(stale\)\s+yes\s+3 ms$/);
    expect(h2).toMatch(/^h2\s+holder\s+yes\s+yes\s+3 ms$/);
  });
});
