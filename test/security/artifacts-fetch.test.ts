/**
 * Issue 16 point 10, replayed: `artifacts fetch` as an SSRF and hash oracle. Before, an operator's
 * catalogue made the controller GET any URL it could reach (loopback, link-local metadata, the LAN,
 * redirects followed) and the mismatch error printed the sha256 of whatever came back. Every attack
 * here runs against real https/http servers on loopback and asserts that the refused target saw no
 * connection at all. Only loopback is ever contacted: names resolve through the policy's test resolver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addressProblem } from '../../controller/src/artifacts/address-policy.js';
import { downloadVerified } from '../../controller/src/artifacts/download.js';
import { type TestUpstream, startTestUpstream } from '../../controller/src/artifacts/testing.js';
import { DEFAULT_UPSTREAM_HOSTS, type UpstreamPolicy } from '../../controller/src/artifacts/upstream.js';
import { testApp } from '../../controller/src/api/testing.js';
import { type TempStore, tempStore } from '../../controller/src/store/testing.js';
import type { ArtifactSpec } from '../../shared/src/artifacts-api.js';
import { type BallastError, isBallastError } from '../../shared/src/errors.js';
import { sha256 } from '../support/bundle.js';

const BODY = Buffer.from('secret served only inside the network');
const BODY_HASH = sha256(BODY);

let temp: TempStore;
let up: TestUpstream;
/** A second https server on 127.0.0.2: the "internal" box a redirect points at. */
let inner: TestUpstream;
beforeAll(async () => {
  const serve = (_req: unknown, res: { writeHead(s: number): { end(b: Buffer): void } }) => res.writeHead(200).end(BODY);
  up = await startTestUpstream((req, res) => {
    const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '');
    if (req.url?.startsWith('/to/') === true) res.writeHead(302, { location: decodeURIComponent(req.url.slice(4)) }).end();
    else if (hop !== null && Number(hop[1]) < 5) res.writeHead(302, { location: `/hop/${Number(hop[1]) + 1}` }).end();
    else serve(req, res);
  });
  inner = await startTestUpstream(serve, '127.0.0.2');
});
afterAll(async () => {
  await up.close();
  await inner.close();
});
beforeEach(async () => {
  temp = await tempStore('ballast-sec-fetch-');
  up.connections = 0;
  inner.connections = 0;
});
afterEach(() => temp.cleanup());

/** Not the catalogue's runc 1.1.13: a catalogue version must be its pinned build (the last test here). */
const spec = (url: string, hash = BODY_HASH): ArtifactSpec => ({ name: 'runc', version: '1.1.13+test', os: 'linux', arch: 'amd64', url, sha256: hash, file: 'runc.amd64' });

async function download(url: string, policy: UpstreamPolicy, hash?: string): Promise<BallastError | 'ok'> {
  try {
    await downloadVerified({ spec: spec(url, hash), dest: join(temp.dir, `dl-${Math.random().toString(16).slice(2)}`), timeoutMs: 5000, maxBytes: 1 << 20, policy });
    return 'ok';
  } catch (err) {
    if (isBallastError(err)) return err;
    throw err;
  }
}

describe('issue 16 point 10: the address rule', () => {
  it.each([
    '127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.169.254',
    '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '198.18.0.2', '192.0.2.1',
    '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fd00::7', 'fc00::1', 'ff02::1', 'fec0::1', '100::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '::127.0.0.1',
    '64:ff9b::a00:1', '64:ff9b::127.0.0.1', '2002:c0a8:101::1', '2002:7f00:1::', '2001:db8::1', '2001::1',
  ])('refuses %s', (address) => {
    expect(addressProblem(address)).not.toBeNull();
  });

  it.each(['140.82.112.3', '185.199.108.133', '8.8.8.8', '2606:50c0:8000::154', '2a04:4e42::644', '64:ff9b::8c52:7003', '::ffff:140.82.112.3'])(
    'allows the public address %s',
    (address) => {
      expect(addressProblem(address)).toBeNull();
    },
  );

  it('the default upstreams are the built-in catalogue’s hosts and their CDNs, names only', () => {
    expect(DEFAULT_UPSTREAM_HOSTS).toEqual(['github.com', 'dl.k8s.io', 'objects.githubusercontent.com', 'release-assets.githubusercontent.com', 'cdn.dl.k8s.io']);
  });
});

describe('issue 16 point 10: targets refused before any connection', () => {
  it('loopback through a listed name (the system resolver says localhost = 127.0.0.1/::1)', async () => {
    const err = await download(`https://localhost:${up.port}/x`, { hosts: ['localhost'], testing: { ca: up.ca } });
    expect(err).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_ADDRESS' });
    expect((err as BallastError).message).toMatch(/localhost resolves to .*loopback/);
    expect(up.connections).toBe(0);
  });

  it('loopback, link-local and private IP literals, even when listed', async () => {
    for (const host of ['127.0.0.1', '[::1]', '169.254.169.254', '10.0.0.7']) {
      const err = await download(`https://${host}:${up.port}/x`, { hosts: [host], testing: { ca: up.ca } });
      expect(err, host).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_ADDRESS' });
    }
    expect(up.connections).toBe(0);
  });

  it('a name with one good and one private/link-local/mapped-loopback address: every address is checked', async () => {
    for (const bad of ['169.254.169.254', '10.0.0.7', 'fd00::7', '::ffff:127.0.0.2']) {
      const policy = up.policy({ resolve: { 'upstream.test': [{ address: '127.0.0.1', family: 4 }, { address: bad, family: bad.includes(':') ? 6 : 4 }] } });
      const err = await download(`${up.base}/x`, policy);
      expect(err, bad).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_ADDRESS' });
      expect((err as BallastError).message).toContain(bad);
    }
    expect(up.connections).toBe(0);
  });

  it('plain http, even to a listed host', async () => {
    let httpConnections = 0;
    const plain: Server = createServer((_req, res) => res.end(BODY)).on('connection', () => {
      httpConnections += 1;
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const err = await download(`http://upstream.test:${(plain.address() as AddressInfo).port}/x`, up.policy());
      expect(err).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_NOT_ALLOWED' });
      expect((err as BallastError).message).toContain('only https is allowed');
      expect(httpConnections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('a host not on the upstream list, although it resolves to an allowed address', async () => {
    const policy = up.policy({ resolve: { 'other.test': [{ address: '127.0.0.1', family: 4 }] } });
    const err = await download(`https://other.test:${up.port}/x`, policy);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_NOT_ALLOWED' });
    expect((err as BallastError).message).toContain('other.test is not a configured upstream');
    expect(up.connections).toBe(0);
  });
});

describe('issue 16 point 10: redirects are re-checked', () => {
  const via = (target: string) => `${up.base}/to/${encodeURIComponent(target)}`;

  it('to a listed name that resolves to a private (loopback) address: refused, the inner server sees nothing', async () => {
    const policy = up.policy({ hosts: ['internal.test'], resolve: { 'internal.test': [{ address: '127.0.0.2', family: 4 }] } });
    expect(await download(`https://internal.test:${inner.port}/secret`, policy)).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_ADDRESS' });
    const err = await download(via(`https://internal.test:${inner.port}/secret`), policy);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_ADDRESS' });
    expect((err as BallastError).message).toContain('redirected to https://internal.test');
    expect(inner.connections).toBe(0);
  });

  it('to cloud metadata, to http, to an unlisted host: refused', async () => {
    for (const target of ['https://169.254.169.254/latest/meta-data/', `http://upstream.test:${up.port}/x`, `https://127.0.0.2:${inner.port}/secret`]) {
      expect(await download(via(target), up.policy()), target).toMatchObject({ code: 'BALLAST_ERR_UPSTREAM_NOT_ALLOWED' });
    }
    expect(inner.connections).toBe(0);
  });

  it('at most 3 redirects', async () => {
    expect(await download(`${up.base}/hop/2`, up.policy())).toBe('ok'); // to 3, 4, 5 (served): three redirects
    expect(await download(`${up.base}/hop/1`, up.policy())).toMatchObject({ code: 'BALLAST_ERR_CONNECT', message: expect.stringContaining('more than 3 redirects') });
  });
});

describe('issue 16 point 10: no hash oracle', () => {
  it('a mismatch names the expected hash, never the body’s; nothing is imported', async () => {
    const wanted = 'e'.repeat(64);
    const err = await download(`${up.base}/x`, up.policy(), wanted);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_CHECKSUM_MISMATCH' });
    const message = (err as BallastError).message;
    expect(message).toContain(`expected sha256 ${wanted}, the download did not match`);
    // The only hex digest in the message is the one the caller sent.
    expect(message.match(/[0-9a-f]{64}/g)).toEqual([wanted]);
    expect(message).not.toContain(BODY_HASH);
  });
});

describe('issue 16 point 10: the route', () => {
  let app: FastifyInstance;
  let admin: string;
  let operator: string;
  beforeEach(async () => {
    app = await testApp({
      store: temp.store,
      hostAuth: { identify: () => ({ ok: false, status: 403, error: { code: 'BALLAST_ERR_CERT_REVOKED', message: 'no' } }) },
      artifacts: { mirrorDir: join(temp.dir, 'artifacts'), upstream: up.policy() },
    });
    admin = temp.store.operators.ensureAdmin() ?? '';
    operator = temp.store.operators.create({ name: 'op', role: 'operator' }).token;
  });
  afterEach(() => app.close());

  const call = (token: string, catalogue?: unknown[]) =>
    app.inject({ method: 'POST', url: '/v1/artifacts/fetch', headers: { authorization: `Bearer ${token}` }, payload: catalogue === undefined ? {} : { catalogue } });

  it('an operator is refused (403), with or without a catalogue, before any connection', async () => {
    for (const r of [await call(operator, [spec(`${up.base}/x`)]), await call(operator)]) {
      expect(r.statusCode).toBe(403);
      expect(r.json().code).toBe('BALLAST_ERR_FORBIDDEN');
    }
    expect(up.connections).toBe(0);
    expect(temp.store.audit.list(5).filter((a) => a.action === 'artifact.fetch').map((a) => a.outcome)).toEqual(['denied', 'denied']);
  });

  it('an admin fetches from a configured upstream; an admin’s loopback URL is a 403 and imports nothing', async () => {
    const inward = await call(admin, [spec(`https://localhost:${up.port}/x`)]);
    expect(inward.statusCode).toBe(403);
    expect(inward.json().code).toBe('BALLAST_ERR_UPSTREAM_NOT_ALLOWED');
    const mismatch = await call(admin, [spec(`${up.base}/x`, 'e'.repeat(64))]);
    expect(mismatch.statusCode).toBe(422);
    expect(JSON.stringify(mismatch.json())).not.toContain(BODY_HASH);
    expect(temp.store.audit.list(1)[0]?.detail).not.toContain(BODY_HASH);
    expect(temp.store.artifacts.list()).toEqual([]);
    const ok = await call(admin, [spec(`${up.base}/x`)]);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ added: 1, items: [{ artifact: { name: 'runc', sha256: BODY_HASH } }] });
  });

  it('an admin’s catalogue naming a built-in catalogue version with another sha256 is refused (UNTRUSTED) before any connection', async () => {
    const repinned = await call(admin, [{ ...spec(`${up.base}/x`), version: '1.1.13' }]);
    expect(repinned.statusCode).toBe(403);
    expect(repinned.json()).toMatchObject({ code: 'BALLAST_ERR_ARTIFACT_UNTRUSTED', message: expect.stringContaining('runc 1.1.13 (amd64) (the built-in catalogue pins sha256') });
    expect(up.connections).toBe(0);
    expect(temp.store.artifacts.list()).toEqual([]);
  });
});
