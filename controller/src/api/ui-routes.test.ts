import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TempStore, tempStore } from '../store/testing.js';
import { declaredRoutes } from './auth.js';
import { testApp } from './testing.js';
import { UI_SECURITY_HEADERS } from './ui-routes.js';

describe('web UI static routes (app.inject, real files)', () => {
  let temp: TempStore;
  let dir: string;
  let app: FastifyInstance;

  beforeEach(async () => {
    temp = await tempStore('ballast-ui-routes-');
    dir = await mkdtemp(join(tmpdir(), 'ballast-ui-build-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="/ui/assets/index-abc.js"></script>');
    await writeFile(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    await writeFile(join(dir, 'assets', 'index-abc.css'), 'body{}');
    await writeFile(join(dir, 'secret.txt'), 'not part of the build');
    app = await testApp({ store: temp.store, uiDir: dir });
  });
  afterEach(async () => {
    await app.close();
    await temp.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html and hashed assets without a token, each with the security headers', async () => {
    const index = await app.inject({ method: 'GET', url: '/ui/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    for (const [name, value] of Object.entries(UI_SECURITY_HEADERS)) expect(index.headers[name]).toBe(value);
    expect(index.headers['content-security-policy']).toMatch(/^default-src 'self';/);
    expect(index.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(index.headers['x-frame-options']).toBe('DENY');

    const js = await app.inject({ method: 'GET', url: '/ui/assets/index-abc.js' });
    expect([js.statusCode, js.headers['content-type'], js.body]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log(1)']);
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect((await app.inject({ method: 'GET', url: '/ui/assets/index-abc.css' })).headers['content-type']).toBe('text/css; charset=utf-8');

    const bare = await app.inject({ method: 'GET', url: '/ui' });
    expect([bare.statusCode, bare.headers.location]).toEqual([302, '/ui/']);
  });

  it('serves only files of the build: traversal, unknown names and other files are 404 with a code', async () => {
    for (const url of ['/ui/assets/..%2Fsecret.txt', '/ui/assets/../secret.txt', '/ui/secret.txt', '/ui/assets/nope.js', '/ui/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().code, url).toBe('BALLAST_ERR_NOT_FOUND');
      expect(r.body).not.toContain('not part of the build');
    }
  });

  it('declares every /ui route public; the data stays behind the API token', async () => {
    const ui = declaredRoutes(app).filter((r) => r.url.startsWith('/ui'));
    expect(ui.map((r) => `${r.method} ${r.url} ${String(r.auth)}`).sort()).toEqual([
      'GET /ui none',
      'GET /ui/ none',
      'GET /ui/assets/:file none',
      'HEAD /ui none',
      'HEAD /ui/ none',
      'HEAD /ui/assets/:file none',
    ]);
    expect((await app.inject({ method: 'GET', url: '/v1/hosts' })).statusCode).toBe(401);
  });

  it('answers a coded 404 that says how to build it when the UI was not built', async () => {
    const bare = await testApp({ store: temp.store, uiDir: join(dir, 'missing') });
    try {
      const r = await bare.inject({ method: 'GET', url: '/ui/' });
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND', message: expect.stringContaining('npm run build') });
    } finally {
      await bare.close();
    }
  });
});
