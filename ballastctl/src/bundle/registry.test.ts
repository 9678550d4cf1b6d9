/**
 * The registry client against a hostile registry on 127.0.0.1 (a real http server, spoken to as a
 * loopback --insecure-registry): blobs that do not match their digest or exceed their declared
 * size, an oversized manifest, a digest reference whose bytes differ, a Basic challenge and a
 * manifest that is not an image. (The happy path against Debian's real docker-registry is in
 * test/integration/artifacts-bundle.test.ts.)
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBallastError } from '../../../shared/src/errors.js';
import { httpGet } from '../../../shared/src/http-get.js';
import { bundleFetchPolicy, checkInsecureRegistry } from './fetch-policy.js';
import { imageEntryName, parseImageRef } from './image-ref.js';
import { MAX_MANIFEST_BYTES, RegistryClient } from './registry.js';

const digest = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const CONFIG = Buffer.from('{"architecture":"amd64","os":"linux"}');
const LAYER = Buffer.from('layer bytes');
const manifest = (config: { digest: string; size: number }) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(LAYER), size: LAYER.length }],
  });

const routes: Record<string, (res: ServerResponse) => void> = {
  '/v2/good/manifests/t': (res) => res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest({ digest: digest(CONFIG), size: CONFIG.length })),
  [`/v2/good/blobs/${digest(CONFIG)}`]: (res) => res.writeHead(200).end(Buffer.from('{"architecture":"arm64","os":"linux"}')),
  [`/v2/good/blobs/${digest(LAYER)}`]: (res) => res.writeHead(200).end(Buffer.concat([LAYER, Buffer.alloc(100_000)])),
  '/v2/huge/manifests/t': (res) => res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(Buffer.alloc(MAX_MANIFEST_BYTES + 10, 32)),
  [`/v2/pinned/manifests/${digest('something else')}`]: (res) => res.writeHead(200).end(manifest({ digest: digest(CONFIG), size: CONFIG.length })),
  '/v2/basic/manifests/t': (res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="corp"' }).end(),
  '/v2/odd/manifests/t': (res) => res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{"schemaVersion":2,"config":{},"layers":[]}'),
};

let server: Server;
let host = '';
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballastctl-registry-'));
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes[req.url ?? ''];
    if (route === undefined) res.writeHead(404).end();
    else route(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function client(): RegistryClient {
  const insecure = new Set([host]);
  const policy = bundleFetchPolicy({ insecureRegistries: insecure, userAgent: 'test' });
  return new RegistryClient({ get: (url, o) => httpGet(url, { policy, ...o }), insecure, timeoutMs: 5000 });
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isBallastError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a coded error');
}

describe('registry client against a hostile registry', () => {
  it('a blob whose bytes do not match its digest is a checksum mismatch that never names the actual hash; past its declared size it is cut off', async () => {
    const ref = parseImageRef(`${host}/good:t`);
    const resolved = await client().resolve(ref, 'amd64');
    const dest = join(dir, 'config');
    const bad = await codeOf(client().blob(ref, resolved.manifest.config, dest));
    expect(bad.code).toBe('BALLAST_ERR_CHECKSUM_MISMATCH');
    expect(bad.message).toContain(`expected sha256 ${digest(CONFIG).slice(7)}, the download did not match; no bundle was written`);
    expect(bad.message).not.toContain(digest('{"architecture":"arm64","os":"linux"}').slice(7));
    const big = await codeOf(client().blob(ref, resolved.manifest.layers[0]!, join(dir, 'layer')));
    expect(big.code).toBe('BALLAST_ERR_TOO_LARGE');
    expect(big.message).toContain(`larger than the limit of ${LAYER.length} bytes`);
  });

  it('refuses an oversized manifest, a digest reference with other bytes, a Basic challenge and a manifest that is not an image', async () => {
    const huge = await codeOf(client().resolve(parseImageRef(`${host}/huge:t`), 'amd64'));
    expect(huge).toMatchObject({ code: 'BALLAST_ERR_REGISTRY', message: expect.stringContaining(`larger than ${MAX_MANIFEST_BYTES} bytes`) });
    const pinned = await codeOf(client().resolve(parseImageRef(`${host}/pinned:t@${digest('something else')}`), 'amd64'));
    expect(pinned).toMatchObject({ code: 'BALLAST_ERR_CHECKSUM_MISMATCH', message: expect.stringContaining('does not match its digest') });
    const basic = await codeOf(client().resolve(parseImageRef(`${host}/basic:t`), 'amd64'));
    expect(basic).toMatchObject({ code: 'BALLAST_ERR_REGISTRY', message: expect.stringContaining('asks for credentials (WWW-Authenticate: Basic realm="corp")') });
    const odd = await codeOf(client().resolve(parseImageRef(`${host}/odd:t`), 'amd64'));
    expect(odd).toMatchObject({ code: 'BALLAST_ERR_REGISTRY', message: expect.stringContaining('does not match the OCI schema') });
  });
});

describe('image references and the insecure-registry rule', () => {
  it('parses references the way docker pull does', () => {
    expect(parseImageRef('registry.k8s.io/coredns/coredns:v1.14.2')).toEqual({
      registry: 'registry.k8s.io',
      repository: 'coredns/coredns',
      tag: 'v1.14.2',
      canonical: 'registry.k8s.io/coredns/coredns:v1.14.2',
    });
    expect(parseImageRef('busybox')).toMatchObject({ registry: 'registry-1.docker.io', repository: 'library/busybox', tag: 'latest', canonical: 'docker.io/library/busybox:latest' });
    expect(parseImageRef('localhost:5000/a/b:1')).toMatchObject({ registry: 'localhost:5000', repository: 'a/b', tag: '1' });
    expect(imageEntryName(parseImageRef('registry.k8s.io/coredns/coredns:v1.14.2'))).toBe('image-coredns');
    for (const bad of ['', 'Upper/Case:x', 'reg.io/a:bad tag', 'reg.io/a@sha256:123']) expect(() => parseImageRef(bad)).toThrow(/failed to read image reference/);
  });

  it('allows plain http only to loopback registries', () => {
    expect(checkInsecureRegistry('127.0.0.1:5000')).toBeNull();
    expect(checkInsecureRegistry('localhost:5000')).toBeNull();
    expect(checkInsecureRegistry('[::1]:5000')).toBeNull();
    expect(checkInsecureRegistry('192.168.1.10:5000')).toContain('not a loopback address');
    expect(checkInsecureRegistry('registry.local:5000')).toContain('not a loopback address');
    expect(checkInsecureRegistry('127.0.0.1')).toContain('is not HOST:PORT');
  });
});
