/**
 * `ballastctl host label` in-process against the real API (testApp on 127.0.0.1, plain HTTP) and a
 * real SQLite store: kubectl label's rules, coded refusals with their exit codes, auth and audit,
 * and the labels in `host show` and `hosts -o json`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../controller/src/api/testing.js';
import { openStore, type Store } from '../../../controller/src/store/store.js';
import { runCli } from '../cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ballastctl-label-'));
let store: Store;
let app: FastifyInstance;
let url = '';
let admin = '';
let operator = '';
let viewer = '';

beforeAll(async () => {
  store = openStore({ path: join(dir, 'ballast.db') });
  admin = store.operators.ensureAdmin() ?? '';
  operator = store.operators.create({ name: 'olga', role: 'operator' }).token;
  viewer = store.operators.create({ name: 'vic', role: 'viewer' }).token;
  for (const name of ['node-1', 'node-2']) store.hosts.create({ id: `id-${name}`, name, certSerial: `serial-${name}`, certNotAfter: Date.now() + 86_400_000, enrolledAt: Date.now() });
  app = await testApp({ store });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ctl(argv: string[], token = operator): Promise<{ code: number; out: string; err: string }> {
  const config = join(dir, 'ctl.conf');
  const ca = '"-----BEGIN CERTIFICATE-----\\nunused for http\\n-----END CERTIFICATE-----\\n"';
  writeFileSync(config, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${url}\ncaCert: ${ca}\ntoken: ${token}\n`, { mode: 0o600 });
  const r = { code: -1, out: '', err: '' };
  r.code = await runCli(argv, { stdout: { write: (s: string) => (r.out += s) }, stderr: { write: (s: string) => (r.err += s) }, env: { BALLAST_CONFIG: config }, homedir: dir });
  return r;
}

describe('ballastctl host label', () => {
  it('sets labels, refuses to change one without --overwrite, changes it with, and removes with key-', async () => {
    expect(await ctl(['host', 'label', 'node-1', 'pool=spare', 'ballast.dev/rack=r1'])).toEqual({ code: 0, err: '', out: 'host "node-1" labelled: ballast.dev/rack=r1 pool=spare\n' });
    // The same value again is no change: allowed without --overwrite, as in kubectl.
    expect((await ctl(['host', 'label', 'node-1', 'pool=spare'])).code).toBe(0);
    const refused = await ctl(['host', 'label', 'node-1', 'pool=reserve']);
    expect(refused).toMatchObject({ code: 1, out: '' });
    expect(refused.err).toBe('error: BALLAST_ERR_LABEL_EXISTS: failed to label host node-1: it already has pool=spare; pass --overwrite to change it to pool=reserve\n');
    expect(store.hosts.getByName('node-1')?.labels).toEqual({ 'ballast.dev/rack': 'r1', pool: 'spare' });
    expect((await ctl(['host', 'label', 'node-1', 'pool=reserve', '--overwrite'])).out).toBe('host "node-1" labelled: ballast.dev/rack=r1 pool=reserve\n');
    expect((await ctl(['host', 'label', 'node-1', 'pool-', 'absent-'])).out).toBe('host "node-1" labelled: ballast.dev/rack=r1\n');
    const json = await ctl(['host', 'label', 'node-1', 'pool=spare', '-o', 'json']);
    expect(JSON.parse(json.out)).toMatchObject({ name: 'node-1', labels: { 'ballast.dev/rack': 'r1', pool: 'spare' } });
  });

  it('refuses an invalid key or value with BALLAST_ERR_LABEL_INVALID (exit 1), a malformed argument as usage (exit 2)', async () => {
    const badValue = await ctl(['host', 'label', 'node-2', 'pool=-spare']);
    expect(badValue.code).toBe(1);
    expect(badValue.err).toMatch(/^error: BALLAST_ERR_LABEL_INVALID: failed to label host node-2: label pool="-spare": the value must be empty or 1-63 characters/);
    const badKey = await ctl(['host', 'label', 'node-2', `${'k'.repeat(64)}=v`]);
    expect(badKey.err).toMatch(/^error: BALLAST_ERR_LABEL_INVALID: failed to label host node-2: label key "k{64}": the name must be 1-63 characters/);
    const badPrefix = await ctl(['host', 'label', 'node-2', 'Ballast.dev/pool=spare']);
    expect(badPrefix.err).toMatch(/BALLAST_ERR_LABEL_INVALID: .*the prefix before "\/" must be a DNS subdomain/);
    const tooMany = Array.from({ length: 33 }, (_, i) => `k${i}=v`);
    expect((await ctl(['host', 'label', 'node-2', ...tooMany])).err).toMatch(/BALLAST_ERR_LABEL_INVALID/);
    expect(await ctl(['host', 'label', 'node-2', 'pool'])).toEqual({ code: 2, out: '', err: 'error: "pool" is neither key=value (set) nor key- (remove)\n' });
    expect(store.hosts.getByName('node-2')?.labels).toEqual({});
    expect((await ctl(['host', 'label', 'node-9', 'pool=spare'])).err).toMatch(/^error: BALLAST_ERR_NOT_FOUND: /);
  });

  it('needs an operator: a viewer is refused (403), an admin may; every call is audited as host.label', async () => {
    const denied = await ctl(['host', 'label', 'node-2', 'pool=spare'], viewer);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/^error: forbidden: operator "vic" has /);
    expect(store.hosts.getByName('node-2')?.labels).toEqual({});
    expect((await ctl(['host', 'label', 'node-2', 'pool=spare'], admin)).code).toBe(0);
    const audit = store.audit.list(100).filter((a) => a.action === 'host.label' && a.target === 'node-2');
    expect(audit.map((a) => [a.actor, a.outcome, a.detail])).toEqual(
      expect.arrayContaining([
        ['vic', 'denied', expect.stringMatching(/^HTTP 403|pool=spare/)],
        ['admin', 'ok', 'pool=spare'],
        ['olga', 'failed', 'pool=-spare'],
      ]),
    );
    const events = store.events.list({ host: 'node-2', limit: 10 }).filter((e) => e.kind === 'host.labels');
    expect(events.map((e) => e.message)).toEqual(['labels set by admin: pool=spare']);
  });

  it('shows labels in host show and hosts -o json', async () => {
    const show = await ctl(['host', 'show', 'node-1'], viewer);
    expect(show.out).toMatch(/^Labels: +ballast\.dev\/rack=r1, pool=spare$/m);
    const list = JSON.parse((await ctl(['hosts', '-o', 'json'], viewer)).out) as { items: { name: string; labels: Record<string, string> }[] };
    expect(list.items.map((h) => [h.name, h.labels])).toEqual([
      ['node-1', { 'ballast.dev/rack': 'r1', pool: 'spare' }],
      ['node-2', { pool: 'spare' }],
    ]);
  });
});
