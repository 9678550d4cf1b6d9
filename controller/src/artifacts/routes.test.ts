import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256, testTrustKeys, writeBundle } from '../../../test/support/bundle.js';
import { artifactFilePath } from '../../../shared/src/artifacts-api.js';
import { testApp } from '../api/testing.js';
import type { Store } from '../store/store.js';
import { type TempStore, tempStore } from '../store/testing.js';
import { type TestUpstream, startTestUpstream } from './testing.js';

const RUNC = Buffer.from('\x7fELF runc');

describe('artifact routes (app.inject)', () => {
  let temp: TempStore;
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let admin: string;
  let viewer: string;
  let operator: string;
  const served = new Map<string, Buffer>();
  let up: TestUpstream;

  beforeAll(async () => {
    up = await startTestUpstream((req, res) => {
      const body = served.get(req.url ?? '');
      if (body === undefined) res.writeHead(404).end('nope');
      else res.writeHead(200).end(body);
    });
  });
  afterAll(() => up.close());

  beforeEach(async () => {
    temp = await tempStore('ballast-artroutes-');
    ({ dir, store } = temp);
    app = await testApp({
      store,
      hostAuth: { identify: () => ({ ok: false, status: 403, error: { code: 'BALLAST_ERR_CERT_REVOKED', message: 'no' } }) },
      artifacts: {
        mirrorDir: join(dir, 'artifacts'),
        maxBundleBytes: 64 * 1024,
        upstream: up.policy(),
        trustKeys: await testTrustKeys(),
      },
    });
    admin = store.operators.ensureAdmin() ?? '';
    viewer = store.operators.create({ name: 'v', role: 'viewer' }).token;
    operator = store.operators.create({ name: 'o', role: 'operator' }).token;
  });

  afterEach(async () => {
    await app.close();
    await temp.cleanup();
  });

  const upload = async (path: string, token = admin, type = 'application/octet-stream') =>
    app.inject({ method: 'POST', url: '/v1/artifacts/import', headers: { authorization: `Bearer ${token}`, 'content-type': type }, payload: await readFile(path) });

  it('imports a signed bundle (admin), lists it (viewer), audits the import', async () => {
    await writeBundle({ out: join(dir, 'b.tar.gz'), gzip: true, entries: [{ name: 'runc', version: '1.1.5', file: 'runc.amd64', content: RUNC }] });
    expect((await upload(join(dir, 'b.tar.gz'), viewer)).statusCode).toBe(403);
    const r = await upload(join(dir, 'b.tar.gz'), admin, 'application/gzip');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ added: 1, unchanged: 0, items: [{ status: 'added', artifact: { name: 'runc', sha256: sha256(RUNC), size: RUNC.length } }] });
    const list = await app.inject({ method: 'GET', url: '/v1/artifacts', headers: { authorization: `Bearer ${viewer}` } });
    expect(list.json().items.map((a: { name: string; file: string }) => `${a.name}/${a.file}`)).toEqual(['runc/runc.amd64']);
    expect((await upload(join(dir, 'b.tar.gz'))).json()).toMatchObject({ added: 0, unchanged: 1 });
    const audit = store.audit.list(10).filter((a) => a.action === 'artifact.import');
    const keyId = (await testTrustKeys())[0]!.id;
    expect(audit.map((a) => [a.outcome, a.detail])).toEqual([
      ['ok', `0 added, 1 unchanged; signed by key ${keyId}`],
      ['ok', `1 added, 0 unchanged; signed by key ${keyId}`],
      ['denied', 'HTTP 403'],
    ]);
  });

  it('refuses unpinned artifacts from an operator (UNTRUSTED) and an unsigned bundle from an admin (SIGNATURE), 403, audited, nothing imported', async () => {
    const entries = [{ name: 'runc', version: '1.1.5', file: 'runc.amd64', content: RUNC }];
    await writeBundle({ out: join(dir, 'signed.tar'), entries });
    await writeBundle({ out: join(dir, 'unsigned.tar'), entries, sign: false });
    const byOperator = await upload(join(dir, 'signed.tar'), operator);
    expect([byOperator.statusCode, byOperator.json().code]).toEqual([403, 'BALLAST_ERR_ARTIFACT_UNTRUSTED']);
    expect(byOperator.json().message).toContain('runc 1.1.5 (amd64) is not in the built-in catalogue; only an admin may import');
    const unsigned = await upload(join(dir, 'unsigned.tar'));
    expect([unsigned.statusCode, unsigned.json().code]).toEqual([403, 'BALLAST_ERR_ARTIFACT_SIGNATURE']);
    expect(unsigned.json().message).toContain('the bundle has no manifest.yaml.sig');
    expect(store.artifacts.list()).toEqual([]);
    expect(store.audit.list(2).map((a) => [a.outcome, a.detail?.startsWith('failed to import bundle: runc 1.1.5 (amd64) is not in the built-in catalogue')])).toEqual([
      ['denied', true],
      ['denied', true],
    ]);
  });

  it('lists a container image with its reference and ID; an operator may not import one (not in the catalogue)', async () => {
    const image = { ref: 'registry.k8s.io/pause:3.10.2', id: `sha256:${'e'.repeat(64)}` };
    await writeBundle({ out: join(dir, 'i.tar'), entries: [{ name: 'image-pause', version: '3.10.2', file: 'images/pause_3.10.2.tar', content: Buffer.from('tar'), image }] });
    expect((await upload(join(dir, 'i.tar'), operator)).json()).toMatchObject({ code: 'BALLAST_ERR_ARTIFACT_UNTRUSTED' });
    const r = await upload(join(dir, 'i.tar'));
    expect(r.json()).toMatchObject({ added: 1, items: [{ artifact: { name: 'image-pause', image } }] });
    const list = await app.inject({ method: 'GET', url: '/v1/artifacts', headers: { authorization: `Bearer ${viewer}` } });
    expect(list.json().items).toMatchObject([{ name: 'image-pause', version: '3.10.2', file: 'pause_3.10.2.tar', image }]);
  });

  it('answers a corrupted bundle with 422 BALLAST_ERR_CHECKSUM_MISMATCH and audits the failure', async () => {
    await writeBundle({ out: join(dir, 'c.tar'), entries: [{ name: 'runc', version: '1.1.5', file: 'runc.amd64', content: RUNC, sha256: 'b'.repeat(64) }] });
    const r = await upload(join(dir, 'c.tar'));
    expect(r.statusCode).toBe(422);
    expect(r.json().code).toBe('BALLAST_ERR_CHECKSUM_MISMATCH');
    expect(r.json().message).toContain(`expected sha256 ${'b'.repeat(64)}, got ${sha256(RUNC)}`);
    expect(store.artifacts.list()).toEqual([]);
    const [entry] = store.audit.list(1);
    expect(entry).toMatchObject({ action: 'artifact.import', outcome: 'failed' });
    expect(entry?.detail).toContain('expected sha256');
  });

  it('refuses a JSON body and an oversized declared length', async () => {
    const json = await app.inject({ method: 'POST', url: '/v1/artifacts/import', headers: { authorization: `Bearer ${admin}` }, payload: { a: 1 } });
    expect(json.statusCode).toBe(400);
    expect(json.json().message).toContain('Content-Type application/octet-stream');
    const big = await app.inject({
      method: 'POST',
      url: '/v1/artifacts/import',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(65 * 1024),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().message).toContain('larger than the limit of 65536 bytes');
  });

  it('serves files to operators with sha256 and length headers, refuses anonymous callers', async () => {
    await writeBundle({ out: join(dir, 'b.tar'), entries: [{ name: 'runc', version: '1.1.5', file: 'runc.amd64', content: RUNC }] });
    await upload(join(dir, 'b.tar'));
    const anon = await app.inject({ method: 'GET', url: '/v1/artifacts/files/runc/1.1.5/amd64' });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().code).toBe('BALLAST_ERR_UNAUTHENTICATED');
    const badToken = await app.inject({ method: 'GET', url: '/v1/artifacts/files/runc/1.1.5/amd64', headers: { authorization: 'Bearer blst_nope' } });
    expect(badToken.statusCode).toBe(401);
    const r = await app.inject({ method: 'GET', url: '/v1/artifacts/files/runc/1.1.5/amd64', headers: { authorization: `Bearer ${viewer}` } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-ballast-sha256']).toBe(sha256(RUNC));
    expect(r.headers['content-length']).toBe(String(RUNC.length));
    expect(r.rawPayload).toEqual(RUNC);
    const missing = await app.inject({ method: 'GET', url: '/v1/artifacts/files/runc/9.9/amd64', headers: { authorization: `Bearer ${viewer}` } });
    expect(missing.statusCode).toBe(404);
    const evil = await app.inject({ method: 'GET', url: '/v1/artifacts/files/runc/../amd64', headers: { authorization: `Bearer ${viewer}` } });
    expect(evil.statusCode).not.toBe(200);
  });

  it('keeps a build of a release (build metadata) apart from the release, and serves each by its encoded path', async () => {
    const release = Buffer.from('kubectl as released');
    const build = Buffer.from('kubectl, another build');
    const entries = [
      { name: 'kubectl', version: '1.20.0', file: 'r/kubectl', content: release },
      { name: 'kubectl', version: '1.20.0+ballast.standin', file: 'b/kubectl', content: build },
    ];
    await writeBundle({ out: join(dir, 'b.tar'), entries });
    expect((await upload(join(dir, 'b.tar'))).statusCode).toBe(200);
    for (const e of entries) {
      const url = artifactFilePath({ name: e.name, version: e.version, arch: 'amd64' });
      const r = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${viewer}` } });
      expect([url, r.statusCode, r.headers['x-ballast-sha256']]).toEqual([url, 200, sha256(e.content)]);
    }
    expect(artifactFilePath({ name: 'kubectl', version: '1.20.0+ballast.standin', arch: 'amd64' })).toContain('1.20.0%2Bballast.standin');
  });

  it('fetches a request catalogue (admin only); a hash mismatch is a 422 and imports nothing', async () => {
    served.set('/runc.amd64', RUNC);
    const entry = { name: 'runc', version: '1.1.13+test', os: 'linux', arch: 'amd64', url: `${up.base}/runc.amd64`, sha256: sha256(RUNC) };
    const fetchCall = (catalogue: unknown[], token = admin) =>
      app.inject({ method: 'POST', url: '/v1/artifacts/fetch', headers: { authorization: `Bearer ${token}` }, payload: { catalogue } });
    const byOperator = await fetchCall([entry], operator);
    expect(byOperator.statusCode).toBe(403);
    expect(byOperator.json().code).toBe('BALLAST_ERR_FORBIDDEN');
    expect(up.connections).toBe(0);
    const bad = await fetchCall([{ ...entry, sha256: 'c'.repeat(64) }]);
    expect(bad.statusCode).toBe(422);
    expect(bad.json().message).not.toContain(sha256(RUNC));
    expect(store.artifacts.list()).toEqual([]);
    const ok = await fetchCall([entry]);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ added: 1, items: [{ artifact: { name: 'runc', file: 'runc.amd64' } }] });
    const invalid = await fetchCall([{ ...entry, sha256: 'xyz' }]);
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().path).toBe('body/catalogue/0/sha256');
  });
});
