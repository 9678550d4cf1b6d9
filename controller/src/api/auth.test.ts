import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BootstrapDeps } from '../bootstrap/deps.js';
import type { OperationEngine } from '../ops/engine.js';
import type { RunOrchestrator } from '../runs/orchestrator.js';
import type { Store } from '../store/store.js';
import { type TempStore, tempStore } from '../store/testing.js';
import type { VipService } from '../vip/service.js';
import type { EtcdRoutesDeps } from './routes/etcd.js';
import { authDeclarationProblem, type DeclaredRoute, declaredRoutes, type RouteAuth } from './auth.js';
import { testApp } from './testing.js';

// The routes that need no credentials: probes, metrics, CA discovery, the token-proved join, the
// package mirror the one-line install fetches from and the web UI's static files (no data: the page
// reads everything through the API with a token). Anything else showing up public is a finding.
const PUBLIC = [
  'GET /healthz',
  'GET /install.sh',
  'GET /metrics',
  'GET /readyz',
  'GET /ui',
  'GET /ui/',
  'GET /ui/assets/:file',
  'GET /v1/join/ca',
  'GET /v1/packages',
  'GET /v1/packages/:file',
  'POST /v1/join',
];

describe('auth declarations (every route group enabled)', () => {
  let temp: TempStore;
  let store: Store;
  let app: FastifyInstance;
  let routes: readonly DeclaredRoute[];

  beforeEach(async () => {
    temp = await tempStore('ballast-auth-');
    store = temp.store;
    // Handlers never run in these tests (auth refuses first), so the route groups get bare stand-ins.
    app = await testApp({
      store,
      packagesDir: join(temp.dir, 'packages'),
      artifacts: { mirrorDir: join(temp.dir, 'artifacts') },
      runs: {} as RunOrchestrator,
      ops: {} as OperationEngine,
      bootstrap: {} as BootstrapDeps,
      vip: {} as VipService,
      etcd: { importer: { maxBytes: 1024 } } as unknown as EtcdRoutesDeps,
      uiDir: join(temp.dir, 'ui'),
    });
    await app.ready();
    routes = declaredRoutes(app);
  });

  afterEach(async () => {
    await app.close();
    await temp.cleanup();
  });

  it('has an auth declaration on every registered route, and exactly the expected public ones', () => {
    expect(routes.length).toBeGreaterThan(40);
    for (const r of routes) expect(authDeclarationProblem(r.auth), `${r.method} ${r.url}`).toBeNull();
    const open = routes.filter((r) => r.auth === 'none' && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual(PUBLIC);
    const download = routes.find((r) => r.method === 'GET' && r.url === '/v1/artifacts/files/:name/:version/:arch');
    expect(download?.auth).toEqual(['host', 'viewer']);
    // A cluster-admin credential: admins only (README, threat model).
    expect(routes.find((r) => r.method === 'POST' && r.url === '/v1/clusters/:name/kubeconfig')?.auth).toBe('admin');
    // A snapshot bundle carries the cluster's CA keys: importing one is admin-only too.
    expect(routes.filter((r) => r.url.startsWith('/v1/etcd/snapshots/import')).map((r) => `${r.method} ${r.url} ${String(r.auth)}`).sort()).toEqual([
      'POST /v1/etcd/snapshots/import admin',
      'POST /v1/etcd/snapshots/import-s3 admin',
    ]);
  });

  it('answers 401 to an unauthenticated request on every non-public route', async () => {
    const guarded = routes.filter((r) => r.auth !== 'none');
    expect(guarded.length).toBeGreaterThan(30);
    for (const r of guarded) {
      const url = r.url.replace(/:[a-zA-Z]+/g, 'x1');
      const method = r.method as 'GET' | 'POST' | 'DELETE' | 'HEAD';
      const anonymous = await app.inject({ method, url });
      expect(anonymous.statusCode, `${r.method} ${url}`).toBe(401);
      const badToken = await app.inject({ method, url, headers: { authorization: 'Bearer blst_nope' } });
      expect(badToken.statusCode, `${r.method} ${url} with an unknown token`).toBe(401);
    }
  });
});

describe('registering a route', () => {
  let temp: TempStore;
  let app: FastifyInstance;

  beforeEach(async () => {
    temp = await tempStore('ballast-auth-reg-');
    app = await testApp({ store: temp.store });
  });

  afterEach(async () => {
    await app.close().catch(() => undefined); // an app that failed to start may refuse to close
    await temp.cleanup();
  });

  it('without an auth declaration fails the start-up', async () => {
    void app.register(async (scope) => {
      scope.get('/v1/forgotten', async () => ({ secret: true }));
    });
    await expect(app.ready()).rejects.toThrow('failed to register route GET /v1/forgotten: it declares no auth');
  });

  it('with an unknown auth kind fails the start-up', async () => {
    void app.register(async (scope) => {
      scope.get('/v1/odd', { config: { auth: 'root' as RouteAuth } }, async () => ({}));
    });
    await expect(app.ready()).rejects.toThrow('failed to register route GET /v1/odd: its auth "root" is not "none", a role or "host"');
  });

  it('that accepts only hosts refuses an operator token', async () => {
    const admin = temp.store.operators.ensureAdmin() ?? '';
    void app.register(async (scope) => {
      scope.get('/v1/host-only', { config: { auth: 'host' } }, async () => ({ ok: true }));
    });
    const r = await app.inject({ method: 'GET', url: '/v1/host-only', headers: { authorization: `Bearer ${admin}` } });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_UNAUTHENTICATED', message: expect.stringContaining('needs an enrolled host client certificate (mTLS)') });
  });
});

describe('authDeclarationProblem', () => {
  it('accepts none, a role, host and lists of them; refuses the rest', () => {
    for (const ok of ['none', 'viewer', 'operator', 'admin', 'host', ['host', 'viewer']]) expect(authDeclarationProblem(ok)).toBeNull();
    expect(authDeclarationProblem(undefined)).toMatch(/declares no auth/);
    expect(authDeclarationProblem([])).toMatch(/empty/);
    expect(authDeclarationProblem(['host', 'none'])).toMatch(/"none" is not/);
  });
});
