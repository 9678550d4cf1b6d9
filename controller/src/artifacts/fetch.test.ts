import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalogue } from '../../../shared/src/artifacts-api.js';
import { type BallastError, isBallastError } from '../../../shared/src/errors.js';
import { silentLogger } from '../../../shared/src/log.js';
import { sha256 } from '../../../test/support/bundle.js';
import { type Store, openStore } from '../store/store.js';
import { ArtifactMirror } from './mirror.js';
import { type TestUpstream, startTestUpstream } from './testing.js';

/** Fake upstream files, served by a real HTTPS server on 127.0.0.1 (one redirects, like GitHub's). */
const FILES: Record<string, Buffer> = {
  '/containerd/containerd-1.7.22-linux-amd64.tar.gz': Buffer.from('fake containerd tarball'),
  '/runc/runc.amd64': Buffer.from('fake runc binary'),
  '/k8s/kubelet': Buffer.alloc(256 * 1024, 7),
};

async function rejection(p: Promise<unknown>): Promise<BallastError> {
  try {
    await p;
  } catch (err) {
    if (isBallastError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('artifact mirror: fetch from a versions catalogue', () => {
  let up: TestUpstream;
  let base: string;
  const hits: string[] = [];
  let dir: string;
  let store: Store;
  let mirror: ArtifactMirror;

  beforeAll(async () => {
    up = await startTestUpstream((req, res) => {
      const path = req.url ?? '';
      hits.push(path);
      if (path === '/redirect/runc.amd64') {
        res.writeHead(302, { location: '/runc/runc.amd64' }).end();
        return;
      }
      const body = FILES[path];
      if (body === undefined) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    base = up.base;
  });
  afterAll(() => up.close());

  beforeEach(async () => {
    hits.length = 0;
    dir = await mkdtemp(join(tmpdir(), 'ballast-fetch-'));
    store = openStore({ path: join(dir, 'ballast.db') });
    // No pins: these tests serve stand-in bodies under catalogue versions (the pin rule has its own test in test/security).
    mirror = new ArtifactMirror({ dir: join(dir, 'artifacts'), repo: store.artifacts, log: silentLogger(), downloadTimeoutMs: 5000, upstream: up.policy(), pins: [] });
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const entry = (name: string, version: string, path: string, hash = sha256(FILES[path.replace('/redirect', '/runc')] ?? '')) => ({
    name,
    version,
    os: 'linux',
    arch: 'amd64',
    url: `${base}${path}`,
    sha256: hash,
  });
  const catalogue = (): Catalogue => [
    entry('containerd', '1.7.22', '/containerd/containerd-1.7.22-linux-amd64.tar.gz'),
    entry('runc', '1.1.13', '/redirect/runc.amd64'),
    entry('kubelet', '1.30.4', '/k8s/kubelet'),
  ];

  it('downloads, verifies and files every entry; a second fetch downloads nothing', async () => {
    const changes = await mirror.fetch(catalogue());
    expect(changes.map((c) => `${c.record.name}:${c.status}`)).toEqual(['containerd:added', 'kubelet:added', 'runc:added']);
    expect(await readFile(join(dir, 'artifacts/runc/1.1.13/amd64/runc.amd64'))).toEqual(FILES['/runc/runc.amd64']);
    expect(mirror.locate({ name: 'kubelet', version: '1.30.4', arch: 'amd64' })?.record.size).toBe(256 * 1024);
    expect(mirror.locate({ name: 'containerd', version: '1.7.22', arch: 'amd64' })?.record.url).toBe(`${base}/containerd/containerd-1.7.22-linux-amd64.tar.gz`);

    hits.length = 0;
    const again = await mirror.fetch(catalogue());
    expect(again.every((c) => c.status === 'unchanged')).toBe(true);
    expect(hits).toEqual([]);
  });

  it('a wrong pinned hash fails closed: coded error naming artifact and expected hash, never the actual one; nothing imported', async () => {
    const bad = catalogue();
    bad[1] = { ...bad[1]!, sha256: sha256('what upstream should have served') };
    const err = await rejection(mirror.fetch(bad));
    expect(err.code).toBe('BALLAST_ERR_CHECKSUM_MISMATCH');
    expect(err.message).toContain('runc 1.1.13 (amd64)');
    expect(err.message).toContain(`expected sha256 ${sha256('what upstream should have served')}`);
    expect(err.message).toContain('the download did not match');
    expect(err.message).not.toContain(sha256(FILES['/runc/runc.amd64']!));
    // The good one downloaded before it is not imported either, and no temp file is left.
    expect(mirror.list()).toEqual([]);
    expect(await readdir(join(dir, 'artifacts/.staging'))).toEqual([]);
    expect((await readdir(join(dir, 'artifacts'))).filter((d) => d !== '.staging')).toEqual([]);
  });

  it('reports an upstream HTTP error and an unreachable server as BALLAST_ERR_CONNECT', async () => {
    const missing = await rejection(mirror.fetch([entry('crictl', '1.30.0', '/nope/crictl.tar.gz', 'a'.repeat(64))]));
    expect(missing.code).toBe('BALLAST_ERR_CONNECT');
    expect(missing.message).toContain('HTTP 404');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = await rejection(mirror.fetch([{ ...entry('crictl', '1.30.0', '/x', 'a'.repeat(64)), url: `https://upstream.test:${port}/crictl` }]));
    expect(down.code).toBe('BALLAST_ERR_CONNECT');
    expect(down.message).toContain('ECONNREFUSED');
  });
});
