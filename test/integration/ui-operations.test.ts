/**
 * The web UI's operations, cluster and certificates pages in a real browser (Debian's Chromium via
 * playwright-core) against the real HTTP API, operation engine, bootstrap steps, cluster PKI and
 * SQLite file, listening on loopback. The hosts are modelled (FakeFleet, as in
 * controller/src/bootstrap/testing.ts): a real `cluster create` needs root and the lab's
 * machines, and runs there (test/lab/kubernetes.test.ts); the VIP's agents are modelled too
 * (controller/src/vip/testing.ts) behind the real VipService. A step made to fail pauses the
 * operation; a viewer finds Resume and Abort disabled and the API refuses them (403, coded);
 * the operator resumes (the open page follows the retry live) and aborts it after confirming,
 * and moves the VIP from the cluster page; the audit page shows all of it. Skipped, saying why, without /usr/bin/chromium or a built UI.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/src/log.js';
import type { OperationDocument } from '../../shared/src/ops-api.js';
import { testApp } from '../../controller/src/api/testing.js';
import { FakeFleet } from '../../controller/src/bootstrap/fakes.js';
import { LAB_CLUSTER_DOC, bootstrapRegistry, fleetBootstrapDeps } from '../../controller/src/bootstrap/testing.js';
import { validateCluster } from '../../controller/src/cluster/validate.js';
import { BUILT_UI_DIR } from '../../controller/src/controller.js';
import { createMetrics } from '../../controller/src/metrics.js';
import { OperationEngine } from '../../controller/src/ops/engine.js';
import { VipService } from '../../controller/src/vip/service.js';
import { fakeVipFleet, vipHealth } from '../../controller/src/vip/testing.js';
import { type TempStore, tempStore } from '../../controller/src/store/testing.js';
import { browserSkipReason, cspViolations, launchBrowser, login, mark, marked, newContext, open, postFromPage, screenshot } from './ui-browser.js';

const skip = browserSkipReason();
if (skip !== null) console.log(`skipping the web UI operations browser test: ${skip}`);

describe.skipIf(skip !== null)('web UI: operations timeline, cluster and certificates (real API and engine, modelled hosts, real Chromium)', () => {
  let temp: TempStore;
  let engine: OperationEngine;
  let vip: VipService;
  let app: FastifyInstance;
  let fleet: FakeFleet;
  let base: string;
  let browser: Browser;
  let page: Page;
  let tokens: { admin: string; operator: string; viewer: string };
  let op: OperationDocument;
  let violations: string[];

  beforeAll(async () => {
    temp = await tempStore('ballast-ui-ops-');
    const { store } = temp;
    fleet = new FakeFleet();
    const deps = fleetBootstrapDeps({ store, fleet, log: silentLogger(), validate: (spec) => validateCluster(spec) });
    engine = new OperationEngine({ repo: store.operations, events: store.events, log: silentLogger(), registry: bootstrapRegistry(deps) });
    const vipFleet = fakeVipFleet(['h1', 'h2', 'h3']);
    vipFleet.cluster.holder = 'h1';
    vip = new VipService({ hosts: vipFleet.directory, events: store.events, metrics: createMetrics({ collectProcess: false }), log: silentLogger(), movePollMs: 5 });
    vip.seed(['h1', 'h2', 'h3'].map((h) => ({ id: `h_${h}`, health: vipHealth() })));
    app = await testApp({ store, ops: engine, bootstrap: deps, vip, tracker: vipFleet.tracker, uiDir: BUILT_UI_DIR });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    tokens = {
      admin: store.operators.ensureAdmin() ?? '',
      operator: store.operators.create({ name: 'olga', role: 'operator' }).token,
      viewer: store.operators.create({ name: 'vic', role: 'viewer' }).token,
    };
    // h3's control-plane join fails twice: the operation pauses there, and again after one resume.
    fleet.failures.set('kube-control-plane/h3', 2);
    const started = await app.inject({ method: 'POST', url: '/v1/clusters', headers: { authorization: `Bearer ${tokens.admin}` }, payload: { spec: LAB_CLUSTER_DOC } });
    expect(started.statusCode, started.body).toBe(200);
    await engine.idle(started.json<OperationDocument>().id);
    op = engine.get(started.json<OperationDocument>().id);
    expect(op.state).toBe('paused');
    expect(op.error?.stepKey).toBe('kube/join/h3');
    browser = await launchBrowser();
    page = await (await newContext(browser)).newPage();
    violations = cspViolations(page);
  });

  afterAll(async () => {
    await browser?.close();
    vip?.close();
    await app?.close();
    await engine?.close();
    await temp?.cleanup();
  });

  it('lists the operation and shows its timeline per host with the failed step', async () => {
    expect(await login(page, base, tokens.operator)).toBe('olga (operator)');
    await open(page, 'Operations');
    const row = page.locator(`tr[data-op="${op.id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-state]').getAttribute('data-state')).toBe('paused');
    expect(await row.textContent()).toContain('cluster.create');
    await screenshot(page, 'operations');
    await row.locator('a').click();
    await page.locator('[data-testid=operation]').waitFor();
    for (const lane of ['h1', 'h2', 'h3', 'cluster']) await page.locator(`[data-lane="${lane}"]`).waitFor();
    expect(await page.locator('[data-lane="h3"] [data-step="kube/join/h3"]').getAttribute('data-state')).toBe('failed');
    expect(await page.locator('[data-lane="h1"] [data-step="kube/init/h1"]').getAttribute('data-state')).toBe('succeeded');
    expect(await page.locator('[data-testid=op-error]').textContent()).toContain('BALLAST_ERR_COMMAND_FAILED');
    expect(await page.locator('[data-testid=steps] tbody tr').count()).toBe(op.steps.length);
  });

  it('a viewer finds Resume, Abort and Move VIP disabled, and the API refuses them (403, coded)', async () => {
    const viewer = await (await newContext(browser)).newPage();
    expect(await login(viewer, base, tokens.viewer)).toBe('vic (viewer)');
    await viewer.goto(`${base}/ui/#/ops/${op.id}`);
    for (const action of ['op.resume', 'op.abort']) {
      const button = viewer.locator(`button[data-action="${action}"]`);
      await button.waitFor();
      expect(await button.isDisabled(), action).toBe(true);
      expect(await button.getAttribute('title')).toBe(`${action} needs role operator; you are viewer`);
    }
    const refused = await postFromPage(viewer, `/v1/ops/${op.id}/abort`, tokens.viewer, {});
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('BALLAST_ERR_FORBIDDEN');
    expect(engine.get(op.id).state).toBe('paused');
    await open(viewer, 'Cluster');
    await viewer.locator('[data-testid=vip-holder]').waitFor();
    const moves = viewer.locator('button[data-action="vip.move"]');
    await expect.poll(() => moves.count()).toBe(2);
    for (const button of await moves.all()) expect(await button.isDisabled()).toBe(true);
    await viewer.context().close();
  });

  it('the operator resumes (the open page follows the retry live), then aborts after confirming; both are audited', async () => {
    await mark(page);
    const triesCell = page.locator('tr[data-step-row="kube/join/h3"] td:nth-child(6)');
    const before = Number(await triesCell.textContent());
    await page.click('button[data-action="op.resume"]');
    await page.click('[data-confirm=yes]');
    await expect.poll(() => engine.get(op.id).steps.find((s) => s.key === 'kube/join/h3')?.attempts).toBeGreaterThan(before);
    await engine.idle(op.id);
    const retried = engine.get(op.id);
    expect(retried.state).toBe('paused');
    const attempts = String(retried.steps.find((s) => s.key === 'kube/join/h3')?.attempts);
    await expect.poll(() => triesCell.textContent()).toBe(attempts);

    await page.click('button[data-action="op.abort"]');
    expect(await page.locator('[role=dialog]').textContent()).toContain(`Abort ${op.id}`);
    await page.click('[data-confirm=yes]');
    await page.locator('.op-head [data-state="aborted"]').waitFor();
    expect(engine.get(op.id).state).toBe('aborted');
    expect(await page.locator('button[data-action="op.abort"]').count()).toBe(0);
    expect(await marked(page)).toBe(true);
    await screenshot(page, 'operation');

    await open(page, 'Audit');
    for (const entry of ['olga op.resume ok', 'olga op.abort ok', 'vic op.abort denied']) await page.locator(`tr[data-audit="${entry}"]`).waitFor();
    await screenshot(page, 'audit');
  });

  it('shows the cluster: etcd members with the leader, the Kubernetes nodes and the VIP; the operator moves the VIP (audited)', async () => {
    await open(page, 'Cluster');
    for (const member of ['h1', 'h2', 'h3']) {
      await expect.poll(() => page.locator(`[data-testid=etcd] tr[data-member="${member}"] [data-state]`).getAttribute('data-state')).toBe('healthy');
    }
    expect(await page.locator('[data-testid=etcd] tbody tr', { hasText: 'leader' }).count()).toBe(1);
    await page.locator('[data-testid=nodes] tr[data-node="h1"]').waitFor();
    const holder = page.locator('[data-testid=vip-holder]');
    await expect.poll(() => holder.textContent()).toBe('h1');
    await page.click('tr[data-candidate="h2"] button[data-action="vip.move"]');
    expect(await page.locator('[role=dialog]').textContent()).toContain('from h1 to h2');
    await page.click('[data-confirm=yes]');
    await expect.poll(() => holder.textContent(), { timeout: 10_000 }).toBe('h2');
    expect(await page.locator('tr[data-candidate="h2"] [data-state]').first().getAttribute('data-state')).toBe('holder');
    await screenshot(page, 'cluster');
    await open(page, 'Audit');
    await page.locator('tr[data-audit="olga vip.move ok"]').waitFor();
  });

  it('lists the cluster PKI with days left', async () => {
    await open(page, 'Certificates');
    await expect.poll(() => page.locator('[data-testid=cluster-pki] tr[data-cert="lab/etcd-ca"] td.days').textContent()).toMatch(/^\d+ d$/);
    await page.locator('[data-testid=issued] tr[data-cert="controller-ca"]').waitFor();
    await screenshot(page, 'certs-cluster');
  });

  it('ran every page under the CSP without a violation (no inline script or style needed)', () => {
    expect(violations).toEqual([]);
  });
});
