/**
 * `ballastctl artifacts bundle` end to end with real parts: the compiled ballastctl, an https file
 * server on 127.0.0.1 with a CA this test made (trusted through NODE_EXTRA_CA_CERTS, as a user
 * behind a corporate CA would), Debian's real `docker-registry` with images pushed into it, once
 * directly over loopback http (--insecure-registry) and once behind an https redirector and a gate
 * that demands the anonymous bearer-token flow (registry.k8s.io's shape) — then the bundle imported into a real controller by its admin.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseManifest } from '../../controller/src/artifacts/manifest.js';
import { startTestUpstream, type TestUpstream } from '../../controller/src/artifacts/testing.js';
import { createCa, issueServerCert } from '../../controller/src/pki/ca.js';
import type { ArtifactImportResponse, ArtifactListResponse, ArtifactSpec } from '../../shared/src/artifacts-api.js';
import { TEST_SIGNING_KEY } from '../support/bundle.js';
import { containerdUnavailable, startContainerd } from '../support/containerd.js';
import {
  type PushedImage,
  pushTestImage,
  registryMissing,
  startRedirector,
  startRegistry,
  startTokenGate,
  type TestRegistry,
  type TokenGate,
} from '../support/registry.js';
import { freePort, requireBuild, runProc, startProc, stopAll, TestController, tempDir } from './harness.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const missing = registryMissing();
if (missing !== null) console.warn(`artifacts bundle image tests skipped: ${missing}`);
const containerdMissing = containerdUnavailable();
if (containerdMissing !== null) console.warn(`artifacts bundle: the containerd import check is skipped: ${containerdMissing}`);

const KUBEADM = Buffer.from(`#!/bin/sh\necho kubeadm\n${'#'.repeat(100_000)}\n`);
const CRICTL = Buffer.alloc(150_000, 3);

describe.skipIf(missing !== null)('artifacts bundle: real https server, real registry, real controller', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let files: TestUpstream;
  let registry: TestRegistry;
  let gate: TokenGate;
  let redirector: Awaited<ReturnType<typeof startRedirector>>;
  let ctl: TestController;
  let caFile = '';
  let plain: PushedImage;
  let indexed: PushedImage;
  /** The docker-archive of test/hello extracted from the bundle by the first test. */
  let helloArchive = '';
  /** The bundle the first test built, and its manifest. */
  let bundled: { path: string; manifest: ArtifactSpec[] } | undefined;

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('bundle');
    files = await startTestUpstream((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/dl/stall') {
        // Half the body, then nothing: the download hangs until the user presses Ctrl-C.
        res.writeHead(200, { 'content-length': CRICTL.length });
        res.write(CRICTL.subarray(0, 10_000), () => stalled.resolve());
        return;
      }
      const body = req.url === '/dl/kubeadm' ? KUBEADM : req.url === '/dl/crictl-v1.36.0-linux-amd64.tar.gz' ? CRICTL : undefined;
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    caFile = join(dir.path, 'ca.pem');
    await mkdir(join(dir.path, 'registry'));
    registry = await startRegistry(join(dir.path, 'registry'), await freePort());
    plain = await pushTestImage(registry.host, 'test/hello', 'v1.0.0');
    indexed = await pushTestImage(registry.host, 'library/multi', '2.1', { index: true });
    // The gate's certificate comes from a second CA, so that both CAs must be trusted at once.
    const gateCa = await createCa({ commonName: 'bundle test gate CA' });
    const gateLeaf = await issueServerCert({ ca: gateCa, commonName: '127.0.0.1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    gate = await startTokenGate(registry.host, { key: gateLeaf.keyPem, cert: gateLeaf.certPem });
    redirector = await startRedirector(gate.host, { key: gateLeaf.keyPem, cert: gateLeaf.certPem });
    await writeFile(caFile, `${files.ca}\n${gateCa.certPem}`);
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
  });

  afterAll(async () => {
    await stopAll();
    await registry?.stop();
    await gate?.close();
    await redirector?.close();
    await files?.close();
    await dir?.cleanup();
  });

  /** Resolved when the stalling route has sent its first half. */
  let stalled = deferred();

  it('Ctrl-C (SIGINT to the real process) mid-download exits 130 and leaves no bundle next to --out', async () => {
    stalled = deferred();
    const catalogue = join(dir.path, 'stall.yaml');
    await writeFile(catalogue, stringify([{ name: 'crictl', version: '9.9.9', os: 'linux', arch: 'amd64', url: `https://127.0.0.1:${files.port}/dl/stall`, sha256: sha(CRICTL) }]));
    await mkdir(join(dir.path, 'sigint'));
    const out = join(dir.path, 'sigint', 'bundle.tar');
    const proc = startProc('ballastctl', ['artifacts', 'bundle', '--cache-dir', join(dir.path, 'cache'), '--out', out, '--catalogue', catalogue], { NODE_EXTRA_CA_CERTS: caFile });
    await stalled.promise;
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(130);
    expect(proc.output()).toContain(`interrupted: no bundle was written to ${out}`);
    expect(await readdir(join(dir.path, 'sigint'))).toEqual([]);
    expect(await readdir(join(dir.path, 'cache', 'tmp'))).toEqual([]);
  });

  const bundle = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runProc('ballastctl', ['artifacts', 'bundle', '--cache-dir', join(dir.path, 'cache'), ...args], { NODE_EXTRA_CA_CERTS: caFile, ...env });

  it('bundles catalogue files and images (plain loopback registry and a token-gated https one): manifest.yaml first, docker-archives inside', async () => {
    const catalogue = join(dir.path, 'catalogue.yaml');
    const base = `https://127.0.0.1:${files.port}`;
    await writeFile(
      catalogue,
      stringify([
        // Test builds (+test): the built-in catalogue pins 1.36.3 / 1.36.0 to upstream's sha256s.
        { name: 'kubeadm', version: '1.36.3+test', os: 'linux', arch: 'amd64', url: `${base}/dl/kubeadm`, sha256: sha(KUBEADM) },
        { name: 'crictl', version: '1.36.0+test', os: 'linux', arch: 'amd64', url: `${base}/dl/crictl-v1.36.0-linux-amd64.tar.gz`, sha256: sha(CRICTL) },
        { name: 'crictl', version: '1.36.0+test', os: 'linux', arch: 'arm64', url: `${base}/dl/crictl-v1.36.0-linux-arm64.tar.gz`, sha256: sha(CRICTL) },
      ]),
    );
    const out = join(dir.path, 'bundle.tar');
    const r = await bundle([
      '--out', out, '--catalogue', catalogue, '--insecure-registry', registry.host,
      '--images', `${registry.host}/test/hello:v1.0.0,${redirector.host}/library/multi:2.1`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 files and 2 images');
    expect(r.stderr).toContain('kubeadm 1.36.3+test (amd64): ');
    expect(r.stderr).toMatch(/test\/hello:v1\.0\.0 layer 2\/2 sha256:[0-9a-f]{12}…: [\d.]+K?i?B in/);
    // registry.k8s.io's flow: the name redirects to a backend, the backend challenges, one anonymous
    // token for the backend, and every later request is redirected and carries it there.
    expect(redirector.redirected).toBeGreaterThanOrEqual(4);
    expect(gate.challenged).toBe(1);
    expect(gate.issued.length).toBe(1);

    const { stdout: listing } = await run('tar', ['-tf', out]);
    const members = listing.trim().split('\n');
    expect(members[0]).toBe('manifest.yaml');
    const { stdout: text } = await run('tar', ['-xOf', out, 'manifest.yaml']);
    const manifest = parseManifest(text);
    expect(manifest.map((m) => [m.name, m.version, m.arch, m.file])).toEqual([
      ['kubeadm', '1.36.3+test', 'amd64', 'files/kubeadm'],
      ['crictl', '1.36.0+test', 'amd64', 'files/crictl-v1.36.0-linux-amd64.tar.gz'],
      ['image-hello', 'v1.0.0', 'amd64', 'images/image-hello_v1.0.0.tar'],
      ['image-multi', '2.1', 'amd64', 'images/image-multi_2.1.tar'],
    ]);
    const hello = manifest.find((m) => m.name === 'image-hello')!;
    expect(hello.image).toEqual({ ref: `${registry.host}/test/hello:v1.0.0`, id: plain.configDigest });
    expect(hello.url).toBe(`http://${registry.host}/v2/test/hello/manifests/${plain.manifestDigest}`);
    const multi = manifest.find((m) => m.name === 'image-multi')!;
    // The index was resolved to linux/amd64, not the arm64 image listed first.
    expect(multi.image).toEqual({ ref: `${redirector.host}/library/multi:2.1`, id: indexed.configDigest });

    // Each image is a docker-archive: manifest.json with Config, RepoTags and Layers, every blob inside.
    await mkdir(join(dir.path, 'x'));
    await run('tar', ['-xf', out, '-C', join(dir.path, 'x'), hello.file]);
    const archive = join(dir.path, 'x', hello.file);
    expect(sha(await readFile(archive))).toBe(hello.sha256);
    const { stdout: dm } = await run('tar', ['-xOf', archive, 'manifest.json']);
    const hex = (d: string) => d.slice('sha256:'.length);
    expect(JSON.parse(dm)).toEqual([
      { Config: `blobs/sha256/${hex(plain.configDigest)}`, RepoTags: [`${registry.host}/test/hello:v1.0.0`], Layers: plain.layerDigests.map((d) => `blobs/sha256/${hex(d)}`) },
    ]);
    for (const d of [plain.configDigest, ...plain.layerDigests]) {
      const { stdout: blob } = await run('tar', ['-xOf', archive, `blobs/sha256/${hex(d)}`], { encoding: 'buffer' });
      expect(sha(blob)).toBe(hex(d));
    }

    helloArchive = archive;
    bundled = { path: out, manifest };
  });

  it("the controller imports the bundle as its admin's (every file verified again on its side)", async () => {
    // Images and the test catalogue's files are not pinned by the built-in catalogue: an admin's
    // import of a bundle signed by a key the controller trusts (the test-only one).
    expect(bundled).toBeDefined();
    const { path: out, manifest } = bundled!;
    const signed = join(dir.path, 'signed.tar');
    const sign = await ctl.ctl(['artifacts', 'sign', out, '--key', TEST_SIGNING_KEY, '--out', signed]);
    expect(sign.code, sign.stderr).toBe(0);
    const imported = await ctl.ctlJson<ArtifactImportResponse>(['artifacts', 'import', signed]);
    expect([imported.added, imported.unchanged]).toEqual([4, 0]);
    const list = await ctl.ctlJson<ArtifactListResponse>(['artifacts', 'list']);
    expect(list.items.map((a) => [a.name, a.version, a.sha256]).sort()).toEqual(manifest.map((m) => [m.name, m.version, m.sha256]).sort());
  });

  it.skipIf(containerdMissing !== null)('the image archive imports into a real containerd (ctr -n k8s.io images import) under the ID the manifest names', async () => {
    expect(helloArchive).not.toBe('');
    const ctr = await startContainerd(join(dir.path, 'containerd'));
    try {
      const { stdout } = await run('ctr', ['-a', ctr.socket, '-n', 'k8s.io', 'images', 'import', helloArchive]);
      expect(stdout).toContain(`unpacking ${registry.host}/test/hello:v1.0.0`);
      const { stdout: ls } = await run('ctr', ['-a', ctr.socket, '-n', 'k8s.io', 'images', 'ls', '-q']);
      expect(ls.trim().split('\n')).toEqual([`${registry.host}/test/hello:v1.0.0`]);
      // The image's config (its ID) is the blob the manifest entry names.
      const { stdout: content } = await run('ctr', ['-a', ctr.socket, '-n', 'k8s.io', 'content', 'ls', '-q']);
      expect(content.trim().split('\n')).toContain(plain.configDigest);
      const { stdout: check } = await run('ctr', ['-a', ctr.socket, '-n', 'k8s.io', 'images', 'check']);
      expect(check).toMatch(/complete \(3\/3\)/);
    } finally {
      await ctr.stop();
    }
  });

  it('refuses plain http to a registry not named with --insecure-registry, and a tag that is not there; nothing is written', async () => {
    const out = join(dir.path, 'refused.tar');
    const catalogue = join(dir.path, 'one.yaml');
    await writeFile(catalogue, stringify([{ name: 'kubeadm', version: '1.36.3', os: 'linux', arch: 'amd64', url: `https://127.0.0.1:${files.port}/dl/kubeadm`, sha256: sha(KUBEADM) }]));
    const http = await bundle(['--out', out, '--catalogue', catalogue, '--images', `${registry.host}/test/hello:v1.0.0`]);
    expect(http.code).toBe(1);
    // Without the flag the registry is spoken to over https, which a plain-http server cannot answer.
    expect(http.stderr).toContain(`BALLAST_ERR_CONNECT: failed to fetch manifest of image ${registry.host}/test/hello:v1.0.0 from https://${registry.host}/v2/test/hello/manifests/v1.0.0`);
    const absent = await bundle(['--out', out, '--catalogue', catalogue, '--insecure-registry', registry.host, '--images', `${registry.host}/test/hello:v9`]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain(`BALLAST_ERR_REGISTRY: failed to pull image ${registry.host}/test/hello:v9: GET http://${registry.host}/v2/test/hello/manifests/v9 answered HTTP 404`);
    const noArch = await bundle(['--out', out, '--catalogue', catalogue, '--arch', 's390x', '--insecure-registry', registry.host, '--images', `${registry.host}/library/multi:2.1`]);
    expect(noArch.code).toBe(1);
    expect(noArch.stderr).toContain('has no linux/s390x image (the index offers linux/arm64, linux/amd64)');
    expect(existsSync(out)).toBe(false);
  });
});
