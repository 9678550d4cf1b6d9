/**
 * The web UI's Snapshots and Replacements pages in a real browser (Debian's Chromium via
 * playwright-core) against the real HTTP API over HTTPS, a real SQLite file and real snapshots: a
 * real etcd 3.5.33 under mutual TLS in a host tree, the agent's real maintenance module running the
 * real etcdctl and uploading over HTTPS with the host's client certificate (only the websocket is
 * an in-process call, as in etcd-snapshot-agent.test.ts), the real snapshot service and vault, the
 * real restore drill (etcdutl + etcd), and moto's S3 when it is installed. Replacements are real
 * `node replace` / `node add` operations of the real engine over modelled hosts (the membership
 * fixture's ReplaceFleet and ModelKube; a real replace needs the lab).
 * Skipped, saying why, without Chromium, a built UI or the etcd binaries.
 */
import type { ChildProcess, } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open as openFile, } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/src/log.js';
import type { OperationDocument, OperationListResponse } from '../../shared/src/ops-api.js';
import { testApp } from '../../controller/src/api/testing.js';
import { CLUSTER_CREATE } from '../../controller/src/bootstrap/kind.js';
import { fleetBootstrapDeps } from '../../controller/src/bootstrap/testing.js';
import { BUILT_UI_DIR } from '../../controller/src/controller.js';
import type { HostView } from '../../controller/src/fleet/directory.js';
import type { SessionHandle } from '../../controller/src/hub/host-tracker.js';
import { ModelKube, ReplaceFleet } from '../../controller/src/membership/fakes.js';
import { createFencePort } from '../../controller/src/membership/fence.js';
import { specSource } from '../../controller/src/membership/specs.js';
import { labSpec } from '../../controller/src/membership/testing.js';
import { createMetrics } from '../../controller/src/metrics.js';
import { operationCatalogue } from '../../controller/src/ops/catalogue.js';
import { OperationEngine } from '../../controller/src/ops/engine.js';
import { createCa, issueClientCert, issueServerCert } from '../../controller/src/pki/ca.js';
import { createSnapshotMetrics } from '../../controller/src/snapshots/metrics.js';
import { policySource } from '../../controller/src/snapshots/policy.js';
import type { S3Target } from '../../controller/src/snapshots/s3-target.js';
import { SnapshotService } from '../../controller/src/snapshots/service.js';
import { UploadSlots } from '../../controller/src/snapshots/uploads.js';
import { SnapshotVault } from '../../controller/src/snapshots/vault.js';
import { type TempStore, tempStore } from '../../controller/src/store/testing.js';
import { agentEtcdSession, MOTO_SERVER, startMotoBucket, startTlsEtcdHost, type TlsEtcdHost, tempDir } from './snapshot-support.js';
import { browserSkipReason, cspViolations, launchBrowser, login, mark, marked, newContext, open, postFromPage, screenshot } from './ui-browser.js';

const ETCD_BIN = '/var/cache/ballast/etcd/v3.5.33/bin';
const skip = browserSkipReason() ?? (['etcd', 'etcdctl', 'etcdutl'].every((b) => existsSync(join(ETCD_BIN, b))) ? null : `missing etcd binaries in ${ETCD_BIN}`);
if (skip !== null) console.log(`skipping the web UI snapshots browser test: ${skip}`);

describe.skipIf(skip !== null)('web UI: snapshots, drills and replacements (real etcd, agent module, API and Chromium)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let temp: TempStore;
  let etcd: TlsEtcdHost;
  let motoChild: ChildProcess | null = null;
  let s3: S3Target | null = null;
  let engine: OperationEngine;
  let service: SnapshotService;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let page: Page;
  let violations: string[];
  let tokens: { admin: string; operator: string; viewer: string };
  let replaced: OperationDocument;
  let added: OperationDocument;

  /** etcd's current revision as etcdctl reports it. */
  const revision = async () => String((JSON.parse(await etcd.etcdctl(['get', '/k/1', '-w', 'json'])) as { header: { revision: number } }).header.revision);
  const rows = (p: Page) => p.locator('[data-testid=snapshot-list] tbody tr');
  /** Notes in the page when an element matching `selector` appears (a short-lived one included). */
  const watchFor = (p: Page, selector: string) =>
    p.evaluate((sel) => {
      type Doc = { querySelector(s: string): unknown; body: unknown };
      const doc = Reflect.get(globalThis, 'document') as Doc;
      const Observer = Reflect.get(globalThis, 'MutationObserver') as new (cb: () => void) => { observe(n: unknown, o: object): void };
      Reflect.set(globalThis, 'ballastSeen', false);
      new Observer(() => {
        if (doc.querySelector(sel) !== null) Reflect.set(globalThis, 'ballastSeen', true);
      }).observe(doc.body, { subtree: true, childList: true });
    }, selector);
  const seen = (p: Page) => p.evaluate(() => Reflect.get(globalThis, 'ballastSeen') === true);

  /** moto's S3 on a loopback port with a bucket, or null when moto is not installed. */
  async function startS3(): Promise<S3Target | null> {
    if (MOTO_SERVER === '') return null;
    const moto = await startMotoBucket(dir.path);
    motoChild = moto.child;
    return moto.target;
  }

  beforeAll(async () => {
    dir = await tempDir('ui-snapshots');
    temp = await tempStore('ballast-ui-snapshots-');
    const { store } = temp;
    const log = silentLogger();
    etcd = await startTlsEtcdHost(ETCD_BIN, join(dir.path, 'h1'), 'h1');
    for (let i = 0; i < 20; i++) await etcd.etcdctl(['put', i === 0 ? '/registry/namespaces/kube-system' : `/k/${i}`, `v${i}`]);
    s3 = await startS3();

    // The operation engine with the production catalogue over modelled hosts (as membership/testing.ts).
    const fleet = new ReplaceFleet();
    const kube = new ModelKube(fleet);
    const bootstrap = fleetBootstrapDeps({ store, fleet, log });
    const membership = { bootstrap, repo: store.membership, hosts: fleet.hostsPort(), kubeNodes: () => kube, fence: createFencePort({ hosts: {} }), drainIntervalMs: 5, drainTimeoutMs: 300 };
    engine = new OperationEngine({ repo: store.operations, events: store.events, log, registry: operationCatalogue({ bootstrap, membership }), settleTimeoutMs: 200 });
    const specs = specSource(engine, store.membership);

    // The snapshot side: h1's agent is connected (the real maintenance module), h2 and h3 are not.
    const ca = await createCa({ commonName: 'test-ca' });
    const server = await issueServerCert({ ca, commonName: 'controller', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const agentCert = await issueClientCert({ ca, commonName: 'h1' });
    const metrics = createMetrics({ collectProcess: false });
    let session: SessionHandle | null = null;
    const hosts = { get: (n: string) => (n === 'h1' ? ({ id: 'h1', name: 'h1', connected: true, state: 'healthy' } as HostView) : null), session: (id: string) => (id === 'h1' ? session : null) };
    const vault = new SnapshotVault({ dir: join(temp.dir, 'snapshots'), repo: store.snapshots, key: async () => randomBytes(32).fill(7), bundleInputs: () => ({ pki: [], spec: { name: 'lab' } }) });
    const uploads = new UploadSlots();
    const policies = policySource(store.snapshots, (c) => specs.current(c));
    service = new SnapshotService({
      vault, repo: store.snapshots, uploads, hosts, spec: (c) => specs.current(c), policy: (c) => policies.policy(c),
      events: store.events, metrics: createSnapshotMetrics(metrics.registry), s3, binDirs: [ETCD_BIN], log,
    });
    app = await testApp({
      store, ca, log, metrics, uiDir: BUILT_UI_DIR, ops: engine, bootstrap, nodes: { membership, specs },
      https: { key: server.keyPem, cert: server.certPem, ca: ca.certPem },
      hostAuth: { identify: (peer) => (peer.commonName === 'h1' ? { ok: true, host: { id: 'h1', name: 'h1' } } : { ok: false, status: 403, error: { code: 'BALLAST_ERR_FORBIDDEN', message: 'unknown host' } }) },
      etcd: { service, vault, repo: store.snapshots, uploads, hosts, policies },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    session = agentEtcdSession({ root: etcd.root, server: base, caPem: ca.certPem, certPem: agentCert.certPem, keyPem: agentCert.keyPem }).session;
    tokens = {
      admin: store.operators.ensureAdmin() ?? '',
      operator: store.operators.create({ name: 'olga', role: 'operator' }).token,
      viewer: store.operators.create({ name: 'vic', role: 'viewer' }).token,
    };

    // The cluster, then a replace (h2 → h4) and an add (w2), through the API as the CLI starts them.
    const created = await engine.start(CLUSTER_CREATE, { spec: labSpec() }, { actor: 'alice', cluster: 'lab' });
    await engine.idle(created.id);
    expect(engine.get(created.id).state).toBe('succeeded');
    for (const h of labSpec().hosts) fleet.addresses.set(h.name, h.address);
    fleet.addresses.set('h4', '198.18.0.14');
    fleet.addresses.set('w2', '198.18.0.22');
    const start = async (url: string, body: object) => {
      const r = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${tokens.operator}` }, payload: body });
      expect(r.statusCode, r.body).toBe(200);
      await engine.idle(r.json<OperationDocument>().id);
      return engine.get(r.json<OperationDocument>().id);
    };
    replaced = await start('/v1/nodes/replace', { old: 'h2', new: 'h4' });
    expect(replaced.state).toBe('succeeded');
    added = await start('/v1/nodes/add', { host: 'w2', cluster: 'lab', roles: ['worker'] });
    expect(added.state).toBe('succeeded');

    browser = await launchBrowser();
    page = await (await newContext(browser)).newPage();
    violations = cspViolations(page);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await engine?.close();
    s3?.close();
    if (motoChild !== null && motoChild.exitCode === null && motoChild.signalCode === null) {
      const exited = new Promise((r) => motoChild?.once('exit', r));
      motoChild.kill('SIGKILL');
      await exited;
    }
    await etcd?.stop();
    await temp?.cleanup();
    await dir?.cleanup();
  });

  it('lists a real snapshot with its size, etcd revision, keys, member and S3 copy, and the schedule in force', async () => {
    const rev = await revision();
    const taken = await service.take('lab', 'schedule');
    expect(taken.revision).toBe(rev);
    expect(await login(page, base, tokens.operator)).toBe('olga (operator)');
    await open(page, 'Snapshots');
    const row = page.locator(`tr[data-snapshot="${taken.id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-size]').getAttribute('data-size')).toBe(String(taken.size));
    expect(taken.size).toBeGreaterThan(16 * 1024);
    expect(await row.locator('[data-revision]').textContent()).toBe(rev);
    const cells = await row.locator('td').allTextContents();
    expect(cells[4]).toBe(String(taken.totalKeys));
    expect(taken.totalKeys).toBeGreaterThanOrEqual(20);
    expect(cells[5]).toBe('h1');
    expect(cells[7]).toBe(taken.sha256.slice(0, 12));
    expect(await row.locator('[data-s3]').getAttribute('data-s3')).toBe(s3 === null ? 'no' : 'yes');
    expect(await page.locator('[data-testid=policy]').textContent()).toMatch(/keep \d+ hourly, \d+ daily/);
  }, 60_000);

  it('a viewer finds Snapshot now and Run drill disabled; the API refuses them (403, coded) and the audit shows it', async () => {
    const viewer = await (await newContext(browser)).newPage();
    expect(await login(viewer, base, tokens.viewer)).toBe('vic (viewer)');
    await open(viewer, 'Snapshots');
    for (const action of ['etcd.snapshot', 'etcd.drill']) {
      const button = viewer.locator(`button[data-action="${action}"]`);
      await button.waitFor();
      expect(await button.isDisabled(), action).toBe(true);
      expect(await button.getAttribute('title')).toBe(`${action} needs role operator; you are viewer`);
    }
    const before = temp.store.snapshots.list('lab').length;
    const refused = await postFromPage(viewer, '/v1/etcd/snapshots', tokens.viewer, { cluster: 'lab' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('BALLAST_ERR_FORBIDDEN');
    expect(temp.store.snapshots.list('lab')).toHaveLength(before);
    expect(temp.store.audit.list(20).some((a) => a.actor === 'vic' && a.action === 'etcd.snapshot' && a.outcome === 'denied')).toBe(true);
    await open(viewer, 'Audit');
    await viewer.locator('tr[data-audit="vic etcd.snapshot denied"]').waitFor();
    await viewer.context().close();
  });

  it("the operator's Snapshot now adds the new row on the open page without a reload (audited)", async () => {
    await mark(page);
    for (let i = 0; i < 5; i++) await etcd.etcdctl(['put', `/later/${i}`, 'v']);
    const rev = await revision();
    const count = await rows(page).count();
    await page.click('button[data-action="etcd.snapshot"]');
    expect(await page.locator('[role=dialog]').textContent()).toContain('Take an etcd snapshot of lab now?');
    await page.click('[data-confirm=yes]');
    const result = page.locator('[data-testid=action-result]');
    await result.waitFor({ timeout: 60_000 });
    const newest = temp.store.snapshots.list('lab').sort((a, b) => b.createdAt - a.createdAt)[0];
    if (newest === undefined) throw new Error('no snapshot recorded');
    expect(newest.trigger).toBe('manual');
    expect(await result.textContent()).toContain(`Snapshot ${newest.id} taken from h1: `);
    await expect.poll(() => rows(page).count()).toBe(count + 1);
    expect(await rows(page).first().getAttribute('data-snapshot')).toBe(newest.id);
    expect(await page.locator(`tr[data-snapshot="${newest.id}"] [data-size]`).getAttribute('data-size')).toBe(String(newest.size));
    expect(await page.locator(`tr[data-snapshot="${newest.id}"] [data-revision]`).textContent()).toBe(rev);
    expect(await marked(page)).toBe(true);
    expect(temp.store.audit.list(20).some((a) => a.actor === 'olga' && a.action === 'etcd.snapshot' && a.outcome === 'ok')).toBe(true);
  }, 90_000);

  it('the operator runs a restore drill: progress, then the result, the steps and the history; the snapshot turns verified', async () => {
    await mark(page);
    await watchFor(page, '[data-testid=action-running]');
    await page.click('button[data-action="etcd.drill"]');
    await page.click('[data-confirm=yes]');
    const result = page.locator('[data-testid=action-result]');
    await expect.poll(() => result.textContent(), { timeout: 120_000 }).toMatch(/^Drill of \S+ passed in /);
    const drill = temp.store.snapshots.drills('lab')[0];
    expect(drill?.outcome).toBe('passed');
    await page.locator(`tr[data-drill="${drill?.id}"] [data-state="passed"]`).waitFor();
    expect(await page.locator('[data-testid=last-drill] [data-state]').getAttribute('data-state')).toBe('passed');
    expect(await page.locator('[data-testid=drill-steps] tbody tr').count()).toBe(drill?.steps.length);
    await page.locator(`tr[data-snapshot="${drill?.snapshotId}"] [data-state="verified"]`).waitFor({ timeout: 10_000 });
    expect(await marked(page)).toBe(true);
    expect(await seen(page), 'the page showed the drill running before its result').toBe(true);
    await screenshot(page, 'snapshots');
  }, 150_000);

  it('a snapshot whose sealed file was damaged shows as corrupt after verification', async () => {
    const oldest = temp.store.snapshots.list('lab').sort((a, b) => a.createdAt - b.createdAt)[0];
    if (oldest === undefined) throw new Error('no snapshot');
    const file = await openFile(join(temp.dir, 'snapshots', oldest.file), 'r+');
    await file.write(Buffer.from('damaged!'), 0, 8, 200);
    await file.close();
    const r = await app.inject({ method: 'POST', url: `/v1/etcd/snapshots/${oldest.id}/verify`, headers: { authorization: `Bearer ${tokens.operator}` } });
    expect([r.statusCode, r.json<{ code: string }>().code]).toEqual([422, 'BALLAST_ERR_SNAPSHOT_INVALID']);
    await page.locator(`tr[data-snapshot="${oldest.id}"] [data-state="corrupt"]`).waitFor({ timeout: 10_000 });
  });

  it('Replacements lists node replace and add (not the create) with their per-host timelines; the operations filter narrows by kind', async () => {
    await open(page, 'Replacements');
    await page.locator(`tr[data-op="${replaced.id}"]`).waitFor();
    await page.locator(`tr[data-op="${added.id}"]`).waitFor();
    expect(await page.locator('[data-testid=op-list] tbody tr').count()).toBe(2);
    const card = page.locator(`[data-replacement="${replaced.id}"]`);
    await expect.poll(() => card.locator('h3').textContent()).toContain('node.replace h2 → h4');
    await expect.poll(() => page.locator(`[data-replacement="${added.id}"] h3`).textContent()).toContain('node.add adds w2');
    for (const lane of ['h4', 'h2']) await card.locator(`[data-lane="${lane}"]`).waitFor();
    expect(await card.locator('[data-step="new/etcd-join"]').getAttribute('data-state')).toBe('succeeded');
    await screenshot(page, 'replacements');
    await open(page, 'Operations');
    await page.locator('[data-testid=op-list] tr[data-kind="cluster.create"]').waitFor();
    await page.selectOption('select[name=kind]', 'node.replace');
    await expect.poll(() => page.locator('[data-testid=op-list] tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-kind')))).toEqual(['node.replace']);
    // The filter is the API's: the limit counts matches, and a bad kind is refused by the schema.
    const list = await app.inject({ method: 'GET', url: '/v1/ops?limit=1&kind=node.add,node.replace', headers: { authorization: `Bearer ${tokens.viewer}` } });
    expect(list.json<OperationListResponse>().items.map((o) => o.id)).toEqual([added.id]);
    const bad = await app.inject({ method: 'GET', url: '/v1/ops?kind=node.replace;drop', headers: { authorization: `Bearer ${tokens.viewer}` } });
    expect(bad.statusCode).toBe(400);
  });

  it('ran every page under the CSP without a violation', () => {
    expect(violations).toEqual([]);
  });
});
