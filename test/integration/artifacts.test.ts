/**
 * The artifact mirror end to end: a real controller process, `ballastctl artifacts import` of the
 * Debian test bundle, `artifacts list -o json`, and an enrolled agent's credentials downloading
 * over mTLS through agent/src/artifact-source.ts — then the `artifact` module installing a real
 * etcd from it. Anonymous, foreign-CA and revoked callers are refused, and so is an `artifacts
 * fetch` that is not an admin's, not https, not to a configured upstream or resolves to loopback.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentCredentials } from '../../agent/src/config.js';
import { createArtifactSource } from '../../agent/src/artifact-source.js';
import { artifactModule } from '../../agent/src/tasks/modules/artifact.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { makeTempRoot, testContext } from '../../agent/src/tasks/testing.js';
import { createCa, issueClientCert } from '../../controller/src/pki/ca.js';
import type { ArtifactImportResponse, ArtifactListResponse } from '../../shared/src/artifacts-api.js';
import { isBallastError } from '../../shared/src/errors.js';
import {
  CNI_STANDIN_VERSION,
  CRICTL_STANDIN_VERSION,
  type DebianTestBundle,
  debianTestBundle,
  KUBE_STANDIN_VERSION,
  sha256,
  TEST_SIGNING_KEY,
  writeBundle,
} from '../support/bundle.js';
import { TestController, createToken, joinAgent, requireBuild, runProc, stopAll, tempDir } from './harness.js';

const run = promisify(execFile);

/** A GET of an artifact file with optional client TLS material; returns status and body text. */
function rawGet(url: string, tls: { ca: string; key?: string; cert?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        if (body.length < 4096) body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('artifact mirror: import, list, mTLS download, install', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  let bundle: DebianTestBundle;
  let caCert: string;

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('artifacts');
    bundle = await debianTestBundle();
    ctl = new TestController(join(dir.path, 'controller'));
    // `localhost` is listed to show that a listed name is still refused when it resolves inwards.
    await ctl.start(['--artifact-upstream', 'localhost', '--artifact-upstream', 'github.com']);
    caCert = (await ctl.api<{ caCert: string }>('/v1/join/ca')).body.caCert;
  });

  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  const fileUrl = (name: string, version: string) => `${ctl.url}/v1/artifacts/files/${name}/${version}/amd64`;
  const spec = (name: string) => bundle.manifest.find((m) => m.name === name)!;

  it('imports the Debian test bundle with ballastctl and lists it', async () => {
    const r = await ctl.ctl(['artifacts', 'import', bundle.path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('3 artifacts verified: 3 added, 0 unchanged');
    expect(r.stderr).toContain('uploading bundle.tar: 100%');

    const list = await ctl.ctlJson<ArtifactListResponse>(['artifacts', 'list']);
    expect(list.items.map((a) => [a.name, a.version, a.sha256])).toEqual(
      ['containerd', 'etcd', 'runc'].map((n) => [n, spec(n).version, spec(n).sha256]),
    );
    const again = await ctl.ctlJson<ArtifactImportResponse>(['artifacts', 'import', bundle.path]);
    expect([again.added, again.unchanged]).toEqual([0, 3]);
    const audit = await ctl.ctlJson<{ items: Array<{ action: string; outcome: string }> }>(['audit']);
    expect(audit.items.filter((a) => a.action === 'artifact.import').map((a) => a.outcome)).toEqual(['ok', 'ok']);
  });

  it('refuses a corrupted bundle with the artifact, expected and actual hash, importing nothing', async () => {
    const out = join(dir.path, 'corrupt.tar.gz');
    const real = Buffer.from('kubectl pretend binary');
    // Signed with the test-only key the controller trusts, so the trust check passes and the hash check refuses.
    await writeBundle({ out, gzip: true, entries: [{ name: 'kubectl', version: '1.30.4+test', file: 'kubectl', content: real, sha256: sha256('other') }] });
    const r = await ctl.ctl(['artifacts', 'import', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BALLAST_ERR_CHECKSUM_MISMATCH');
    expect(r.stderr).toContain(`kubectl 1.30.4+test (amd64) file kubectl: expected sha256 ${sha256('other')}, got ${sha256(real)}`);
    const list = await ctl.ctlJson<ArtifactListResponse>(['artifacts', 'list']);
    expect(list.items.map((a) => a.name)).not.toContain('kubectl');
  });

  it('signed manifests: an unsigned bundle is refused by the real controller; `ballastctl artifacts sign` with a trusted key makes it importable', async () => {
    const out = join(dir.path, 'tool.tar.gz');
    await writeBundle({ out, gzip: true, sign: false, entries: [{ name: 'tool', version: '1.0.0', file: 'tool', content: Buffer.from('#!/bin/sh\n') }] });
    const unsigned = await ctl.ctl(['artifacts', 'import', out]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain('forbidden: failed to import bundle: tool 1.0.0 (amd64) is not in the built-in catalogue and the bundle has no manifest.yaml.sig');
    // Another key than the one the controller was started with (--artifact-trust-key, harness.ts).
    expect((await ctl.ctl(['artifacts', 'keygen', '--out', join(dir.path, 'other')])).code).toBe(0);
    expect((await ctl.ctl(['artifacts', 'sign', out, '--key', join(dir.path, 'other.key')])).code).toBe(0);
    expect((await ctl.ctl(['artifacts', 'import', out])).stderr).toContain('which this controller does not trust');
    const signed = await ctl.ctl(['artifacts', 'sign', out, '--key', TEST_SIGNING_KEY]);
    expect(signed.code, signed.stderr).toBe(0);
    const r = await ctl.ctlJson<ArtifactImportResponse>(['artifacts', 'import', out]);
    expect(r.added).toBe(1);
  });

  it('fetch (issue 16 point 10): admin only, https only, configured upstreams only, never a loopback address; the upstream sees no connection', async () => {
    // The controller runs with --artifact-upstream localhost (see beforeAll): listed, but loopback.
    let connections = 0;
    const upstream = createServer((_req, res) => res.writeHead(200).end('inside')).on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    const entry = (url: string) => ({ name: 'crictl', version: '1.30.0+test', os: 'linux', arch: 'amd64', url, sha256: sha256('pinned') });
    const viaApi = (url: string) => ctl.api<{ code: string; message: string }>('/v1/artifacts/fetch', { method: 'POST', body: { catalogue: [entry(url)] } });
    try {
      // Through ballastctl: a 403 is shown as "forbidden: <message>", exit 1.
      const file = join(dir.path, 'catalogue.yaml');
      await writeFile(file, `- {name: crictl, version: 1.30.0+test, os: linux, arch: amd64, url: 'http://127.0.0.1:${port}/crictl', sha256: ${sha256('pinned')}}\n`);
      const plain = await ctl.ctl(['artifacts', 'fetch', '--catalogue', file]);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain(`forbidden: failed to fetch artifact crictl 1.30.0+test (amd64) from http://127.0.0.1:${port}/crictl: only https is allowed, not http`);

      const unlisted = await viaApi(`https://127.0.0.1:${port}/crictl`);
      expect([unlisted.status, unlisted.body.code]).toEqual([403, 'BALLAST_ERR_UPSTREAM_NOT_ALLOWED']);
      expect(unlisted.body.message).toContain('127.0.0.1 is not a configured upstream (--artifact-upstream: localhost, github.com)');
      const loopback = await viaApi(`https://localhost:${port}/crictl`);
      expect([loopback.status, loopback.body.code]).toEqual([403, 'BALLAST_ERR_UPSTREAM_ADDRESS']);
      expect(loopback.body.message).toMatch(/localhost resolves to an address that is not public \(.*loopback/);

      const op = await ctl.ctlJson<{ token: string }>(['operator', 'create', 'olga', '--role', 'operator']);
      const byOperator = await ctl.api<{ code: string }>('/v1/artifacts/fetch', { method: 'POST', body: {}, token: op.token });
      expect([byOperator.status, byOperator.body.code]).toEqual([403, 'BALLAST_ERR_FORBIDDEN']);

      expect(connections).toBe(0);
      const list = await ctl.ctlJson<ArtifactListResponse>(['artifacts', 'list']);
      expect(list.items.map((a) => a.name)).not.toContain('crictl');
      const invalid = await ctl.ctl(['artifacts', 'fetch', '--catalogue', join(dir.path, 'missing.yaml')]);
      expect(invalid.code).toBe(2);
    } finally {
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });

  it("serves an enrolled host over mTLS (agent's artifact source) with a matching hash, and the module installs a working etcd", async () => {
    const t = await createToken(ctl);
    const agentDir = join(dir.path, 'node-1');
    const joined = await joinAgent({ server: ctl.url, token: t.token, caHash: t.caHash, name: 'node-1', dataDir: agentDir });
    expect(joined.code, joined.stderr).toBe(0);
    const creds = await loadAgentCredentials(agentDir);
    const source = createArtifactSource({ server: creds.config.server, credentials: creds });
    try {
      const etcd = spec('etcd');
      const { stream, size } = await source.open(etcd);
      const hash = createHash('sha256');
      await pipeline(stream, hash);
      expect(hash.digest('hex')).toBe(etcd.sha256);
      expect(size).toBeGreaterThan(1_000_000);

      const root = await makeTempRoot('ballast-art-int-');
      const registry = createModuleRegistry([artifactModule]);
      const args = {
        name: 'etcd',
        version: etcd.version,
        arch: 'amd64',
        sha256: etcd.sha256,
        install: [
          { from: `etcd-v${etcd.version}-linux-amd64/etcd`, to: '/usr/local/bin/etcd' },
          { from: `etcd-v${etcd.version}-linux-amd64/etcdctl`, to: '/usr/local/bin/etcdctl' },
        ],
      };
      const first = await registry.run('artifact', args, testContext(root, { artifacts: source }));
      expect(first.changed).toBe(true);
      const { stdout } = await run(join(root, 'usr/local/bin/etcd'), ['--version']);
      expect(stdout).toContain(`etcd Version: ${etcd.version}`);
      const second = await registry.run('artifact', args, testContext(root, { artifacts: source }));
      expect(second.changed).toBe(false);

      // A pin that does not match what the mirror serves fails closed.
      const wrong = await registry
        .run('artifact', { ...args, sha256: 'f'.repeat(64), install: [{ from: args.install[0]!.from, to: '/usr/local/bin/ctr' }] }, testContext(root, { artifacts: source }))
        .catch((e: unknown) => e);
      expect(isBallastError(wrong, 'BALLAST_ERR_CHECKSUM_MISMATCH')).toBe(true);

      // A removed host's certificate is refused.
      expect((await ctl.ctl(['host', 'remove', 'node-1'])).code).toBe(0);
      const refused = await source.open(spec('runc')).catch((e: unknown) => e);
      expect(isBallastError(refused, 'BALLAST_ERR_CERT_REVOKED')).toBe(true);
    } finally {
      source.close();
    }
  });

  it('refuses anonymous and foreign-CA callers, serves operators with a bearer token', async () => {
    const anon = await rawGet(fileUrl('runc', spec('runc').version), { ca: caCert });
    expect(anon.status).toBe(401);
    expect(JSON.parse(anon.body).code).toBe('BALLAST_ERR_UNAUTHENTICATED');

    const otherCa = await createCa({ commonName: 'not-ballast' });
    const foreign = await issueClientCert({ ca: otherCa, commonName: 'node-1', validityDays: 1 });
    const forged = await rawGet(fileUrl('runc', spec('runc').version), { ca: caCert, key: foreign.keyPem, cert: foreign.certPem });
    expect(forged.status).toBe(401);

    const op = await ctl.api<string>(`/v1/artifacts/files/runc/${spec('runc').version}/amd64`);
    expect(op.status).toBe(200);
  });

  it("the lab's bundle with the Kubernetes stand-ins is signed and versioned off the catalogue pins: an admin imports it", async () => {
    const standins = await debianTestBundle({ kubeStandins: true });
    const r = await ctl.ctlJson<ArtifactImportResponse>(['artifacts', 'import', standins.path]);
    const added = r.items.filter((i) => i.status === 'added').map((i) => `${i.artifact.name} ${i.artifact.version}`);
    expect(added.sort()).toEqual(
      [`cni-plugins ${CNI_STANDIN_VERSION}`, `crictl ${CRICTL_STANDIN_VERSION}`, ...['kubeadm', 'kubectl', 'kubelet'].map((n) => `${n} ${KUBE_STANDIN_VERSION}`)].sort(),
    );
  });

  it('a controller given a bad --artifact-trust-key does not start: exit 2, naming every file and why', async () => {
    const junk = join(dir.path, 'junk.pub');
    await writeFile(junk, 'not a key');
    const args = ['--data-dir', join(dir.path, 'bad-keys'), '--listen', '127.0.0.1:0'];
    const r = await runProc('ballast-controller', [...args, '--artifact-trust-key', junk, '--artifact-trust-key', TEST_SIGNING_KEY]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--artifact-trust-key[0] ${junk}: is not an ed25519 public key`);
    expect(r.stderr).toContain(`--artifact-trust-key[1] ${TEST_SIGNING_KEY}: is a private key`);
  });
});
