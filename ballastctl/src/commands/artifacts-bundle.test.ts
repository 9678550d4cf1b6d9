/**
 * `ballastctl artifacts bundle` in-process against a real https server on 127.0.0.1 whose
 * certificate a CA made by the test signed (trusted through --ca-file): a good bundle read back
 * with the system tar, a rerun served from the cache, a pin mismatch, an interrupted and a cut
 * download (no output file, no temp file), and the refusals before any connection.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseManifest } from '../../../controller/src/artifacts/manifest.js';
import { startTestUpstream, type TestUpstream } from '../../../controller/src/artifacts/testing.js';
import { runCli } from '../cli.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const KUBEADM = Buffer.from(`#!/bin/sh\necho kubeadm ${'x'.repeat(300_000)}\n`);
const ETCD = Buffer.alloc(200_000, 7);

let dir = '';
let server: TestUpstream;
let base = '';
let caFile = '';
const hits: string[] = [];
/** Per-path behaviour overrides for the failure tests. */
const special = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();

function handler(req: IncomingMessage, res: ServerResponse): void {
  hits.push(req.url ?? '');
  const override = special.get(req.url ?? '');
  if (override !== undefined) {
    override(req, res);
    return;
  }
  const body = req.url === '/dl/kubeadm' ? KUBEADM : req.url === '/dl/etcd-v3.5.99-linux-amd64.tar.gz' ? ETCD : undefined;
  if (body === undefined) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-length': body.length }).end(body);
}

function catalogue(overrides: Partial<Record<'kubeadm' | 'etcd', { sha256?: string; url?: string }>> = {}) {
  return [
    { name: 'kubeadm', version: '1.36.3', os: 'linux', arch: 'amd64', url: overrides.kubeadm?.url ?? `${base}/dl/kubeadm`, sha256: overrides.kubeadm?.sha256 ?? sha(KUBEADM) },
    { name: 'etcd', version: '3.5.99', os: 'linux', arch: 'amd64', url: overrides.etcd?.url ?? `${base}/dl/etcd-v3.5.99-linux-amd64.tar.gz`, sha256: overrides.etcd?.sha256 ?? sha(ETCD) },
  ];
}

async function bundle(args: string[], opts: { catalogue?: unknown; signal?: AbortSignal } = {}) {
  const cat = join(dir, "catalogue.yaml");
  await writeFile(cat, stringify(opts.catalogue ?? catalogue()));
  const r = { code: -1, out: '', err: '' };
  r.code = await runCli(['artifacts', 'bundle', '--catalogue', cat, '--cache-dir', 'cache', '--ca-file', caFile, ...args], {
    stdout: { write: (s: string) => (r.out += s) },
    stderr: { write: (s: string) => (r.err += s) },
    env: {},
    homedir: dir,
    cwd: dir,
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  await rm(cat);
  return r;
}

/** Everything in the output directory except the test's own files: a failed run must leave nothing. */
async function leftovers(): Promise<string[]> {
  return (await readdir(join(dir, 'out'))).sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballastctl-bundle-'));
  server = await startTestUpstream(handler);
  base = `https://127.0.0.1:${server.port}`;
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, server.ca);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  special.clear();
  hits.length = 0;
  await rm(join(dir, 'out'), { recursive: true, force: true });
  await rm(join(dir, 'cache'), { recursive: true, force: true });
  await mkdir(join(dir, 'out'));
});

describe('artifacts bundle: catalogue files over https', () => {
  it('downloads, verifies and packs every entry, manifest.yaml first; a rerun takes everything from the cache', async () => {
    const r = await bundle(['--out', 'out/bundle.tar']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/kubeadm 1\.36\.3 \(amd64\): [\d.]+KiB in [\d.]+ s \([\d.]+\w*B?\/s\), sha256 verified/);
    expect(r.out).toContain('wrote ');
    expect(r.out).toContain('2 files and 0 images');
    const tarPath = join(dir, 'out', 'bundle.tar');
    const { stdout: listing } = await run('tar', ['-tf', tarPath]);
    const members = listing.trim().split('\n');
    expect(members[0]).toBe('manifest.yaml');
    expect(members).toEqual(['manifest.yaml', 'files/', 'files/kubeadm', 'files/etcd-v3.5.99-linux-amd64.tar.gz']);
    const { stdout: text } = await run('tar', ['-xOf', tarPath, 'manifest.yaml']);
    const manifest = parseManifest(text);
    expect(manifest.map((m) => [m.name, m.file, m.sha256, m.size])).toEqual([
      ['kubeadm', 'files/kubeadm', sha(KUBEADM), KUBEADM.length],
      ['etcd', 'files/etcd-v3.5.99-linux-amd64.tar.gz', sha(ETCD), ETCD.length],
    ]);
    const { stdout: kubeadm } = await run('tar', ['-xOf', tarPath, 'files/kubeadm'], { maxBuffer: 4 << 20 });
    expect(sha(Buffer.from(kubeadm))).toBe(sha(KUBEADM));
    expect(await leftovers()).toEqual(['bundle.tar']);

    hits.length = 0;
    const again = await bundle(['--out', 'out/bundle2.tar', '-o', 'json']);
    expect(again.code, again.err).toBe(0);
    expect(hits).toEqual([]);
    expect(again.err).toContain('kubeadm 1.36.3 (amd64): 293KiB from the cache, sha256 verified');
    const json = JSON.parse(again.out) as { manifest: unknown[]; size: number };
    expect(json.manifest).toHaveLength(2);
    // Same inputs, same bytes: the tar is reproducible (owner 0, mtime 0, fixed order).
    expect(sha(await readFile(join(dir, 'out', 'bundle2.tar')))).toBe(sha(await readFile(tarPath)));
  });

  it('a pin mismatch is a coded error naming the entry and URL, never the body hash, and writes nothing', async () => {
    const wrong = 'ab'.repeat(32);
    const r = await bundle(['--out', 'out/bundle.tar'], { catalogue: catalogue({ etcd: { sha256: wrong } }) });
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: BALLAST_ERR_CHECKSUM_MISMATCH: failed to fetch artifact etcd 3.5.99 (amd64)');
    expect(r.err).toContain(`${base}/dl/etcd-v3.5.99-linux-amd64.tar.gz: expected sha256 ${wrong}, the download did not match; no bundle was written`);
    expect(r.err).not.toContain(sha(ETCD));
    expect(await leftovers()).toEqual([]);
    // Nothing unverified is kept: only the good kubeadm is in the cache.
    expect(await readdir(join(dir, 'cache', 'sha256'))).toEqual([sha(KUBEADM)]);
    expect(await readdir(join(dir, 'cache', 'tmp'))).toEqual([]);
  });

  it('an interrupted download (Ctrl-C) exits 130 and leaves no bundle and no temp file; a rerun resumes from the cache', async () => {
    const abort = new AbortController();
    special.set('/dl/etcd-v3.5.99-linux-amd64.tar.gz', (_req, res) => {
      res.writeHead(200, { 'content-length': ETCD.length });
      res.write(ETCD.subarray(0, 50_000), () => setTimeout(() => abort.abort(), 50));
      // …and the rest never comes.
    });
    const r = await bundle(['--out', 'out/bundle.tar'], { signal: abort.signal });
    expect(r.code).toBe(130);
    expect(r.err).toContain('interrupted: no bundle was written');
    expect(await leftovers()).toEqual([]);
    expect(await readdir(join(dir, 'cache', 'tmp'))).toEqual([]);

    special.clear();
    hits.length = 0;
    // What a SIGKILLed run would have left (it cannot clean up): removed by the next run.
    await mkdir(join(dir, 'out', '.bundle.tar.stage-abc123'));
    await writeFile(join(dir, 'out', '.bundle.tar.0a1b2c.tmp'), 'half');
    const again = await bundle(['--out', 'out/bundle.tar']);
    expect(again.err).toContain('removed .bundle.tar.0a1b2c.tmp, left behind by an earlier run that was killed');
    expect(again.code, again.err).toBe(0);
    expect(hits).toEqual(['/dl/etcd-v3.5.99-linux-amd64.tar.gz']);
    expect(await leftovers()).toEqual(['bundle.tar']);
  });

  it('a connection cut mid-body fails with BALLAST_ERR_CONNECT and writes nothing', async () => {
    special.set('/dl/kubeadm', (req, res) => {
      res.writeHead(200, { 'content-length': KUBEADM.length });
      res.write(KUBEADM.subarray(0, 1000), () => req.socket.destroy());
    });
    const r = await bundle(['--out', 'out/bundle.tar']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: BALLAST_ERR_CONNECT: failed to fetch artifact kubeadm 1.36.3 (amd64) from ${base}/dl/kubeadm`);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses http URLs before connecting, and an untrusted certificate without --ca-file', async () => {
    const http = await bundle(['--out', 'out/bundle.tar'], { catalogue: catalogue({ kubeadm: { url: `http://127.0.0.1:${server.port}/dl/kubeadm` } }) });
    expect(http.code).toBe(1);
    expect(http.err).toContain('BALLAST_ERR_UPSTREAM_NOT_ALLOWED');
    expect(http.err).toContain('only https is allowed, not http');
    expect(hits).toEqual([]);

    const cat = join(dir, 'cat.yaml');
    await writeFile(cat, stringify(catalogue()));
    let err = '';
    const code = await runCli(['artifacts', 'bundle', '--catalogue', cat, '--cache-dir', join(dir, 'cache'), '--out', join(dir, 'out', 'b.tar')], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      env: {},
    });
    expect(code).toBe(1);
    expect(err).toMatch(/BALLAST_ERR_CONNECT: failed to fetch artifact kubeadm .*(self-signed|SELF_SIGNED|unable to verify|UNABLE_TO_VERIFY)/i);
    expect(await leftovers()).toEqual([]);
  });

  it('usage errors: a non-loopback --insecure-registry, a bad image reference, --kubernetes-images without kubeadm', async () => {
    const insecure = await bundle(['--out', 'out/b.tar', '--insecure-registry', '10.0.0.5:5000']);
    expect(insecure.code).toBe(2);
    expect(insecure.err).toContain('--insecure-registry: "10.0.0.5:5000" is not a loopback address');
    const badRef = await bundle(['--out', 'out/b.tar', '--images', 'Registry.Example/UPPER:tag']);
    expect(badRef.code).toBe(2);
    expect(badRef.err).toContain('--images: failed to read image reference');
    const clash = await bundle(['--out', 'out/b.tar', '--images', 'a.io/x/pause:1,b.io/y/pause:1']);
    expect(clash.code).toBe(2);
    expect(clash.err).toContain('a.io/x/pause:1 and b.io/y/pause:1 would both be image-pause 1 in the bundle');
    const noKubeadm = await bundle(['--out', 'out/b.tar', '--kubernetes-images'], { catalogue: [catalogue()[1]] });
    expect(noKubeadm.code).toBe(2);
    expect(noKubeadm.err).toContain('has no kubeadm entry');
    const oldKube = await bundle(['--out', 'out/b.tar', '--kubernetes-images'], { catalogue: [{ ...catalogue()[0], version: '1.29.0' }] });
    expect(oldKube.code).toBe(2);
    expect(oldKube.err).toContain('Kubernetes 1.29.0 is not a minor ballastctl knows the images of (1.36)');
    const noDir = await bundle(['--out', 'missing/b.tar']);
    expect(noDir.code).toBe(2);
    expect(noDir.err).toContain('the directory');
    expect(hits).toEqual([]);
    expect(existsSync(join(dir, 'out', 'b.tar'))).toBe(false);
  });
});
