import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions } from '../../../shared/src/version-compare.js';
import { installCommand, installRoutes, spkiPin } from './install-routes.js';

const haveOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
let dir: string;
let app: FastifyInstance;
let caPem = '';
let caHash = '';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'install-routes-'));
  mkdirSync(join(dir, 'packages'));
  writeFileSync(join(dir, 'packages', 'ballast-agent_0.1.0_amd64.deb'), 'old agent');
  writeFileSync(join(dir, 'packages', 'ballast-agent_0.10.0_amd64.deb'), 'new agent');
  writeFileSync(join(dir, 'packages', 'notes.txt'), 'not served');
  if (haveOpenssl) {
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=test-ca', '-days', '1'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const { X509Certificate } = await import('node:crypto');
    caHash = `sha256:${sha(new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' }))}`;
  }
  app = Fastify();
  await app.register(installRoutes, {
    packagesDir: join(dir, 'packages'),
    serverUrl: () => 'https://198.18.0.2:9443',
    ...(haveOpenssl ? { serverCertPem: () => caPem } : {}),
  });
  app.get('/v1/join/ca', async () => ({ caCert: caPem }));
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('package mirror', () => {
  it('lists only .deb files with their sha256', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/packages' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      items: [
        { file: 'ballast-agent_0.1.0_amd64.deb', size: 9, sha256: sha('old agent') },
        { file: 'ballast-agent_0.10.0_amd64.deb', size: 9, sha256: sha('new agent') },
      ],
    });
  });

  it('serves a package with its sha256 in a header', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/packages/ballast-agent_0.10.0_amd64.deb' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('new agent');
    expect(r.headers['x-checksum-sha256']).toBe(sha('new agent'));
    expect(r.headers.digest).toBe(`sha-256=${Buffer.from(sha('new agent'), 'hex').toString('base64')}`);
  });

  it('serves nothing outside the packages directory or not a package', async () => {
    for (const url of ['/v1/packages/notes.txt', '/v1/packages/..%2Fpackages%2Fballast-agent_0.1.0_amd64.deb', '/v1/packages/missing.deb']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
    }
  });
});

describe('install.sh', () => {
  it('is a valid sh script for the newest agent package, with its sha256 baked in', async () => {
    const r = await app.inject({ method: 'GET', url: '/install.sh' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/x-shellscript/);
    expect(r.body).toContain("PKG='ballast-agent_0.10.0_amd64.deb'");
    expect(r.body).toContain(`PKG_SHA256='${sha('new agent')}'`);
    expect(r.body).toContain("SERVER='https://198.18.0.2:9443'");
    expect(r.body.trimEnd().endsWith('main "$@"')).toBe(true);
    const syntax = spawnSync('sh', ['-n'], { input: r.body, encoding: 'utf8' });
    expect(syntax.status, syntax.stderr).toBe(0);
  });

  it('refuses to run without token and CA hash', async () => {
    const script = (await app.inject({ method: 'GET', url: '/install.sh' })).body;
    const r = spawnSync('sh', ['-s', '--', '--token', 'x'], { input: script, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: install.sh --token/);
  });

  it('is 404 when there is no agent package to install', async () => {
    const empty = Fastify();
    await empty.register(installRoutes, { packagesDir: join(dir, 'nothing-here'), serverUrl: () => 'https://x' });
    const r = await empty.inject({ method: 'GET', url: '/install.sh' });
    expect(r.statusCode).toBe(404);
    await empty.close();
  });
});

// Runs the served script end to end with stand-ins for curl (answers from `app`), dpkg, id and
// ballast-agent, and the real openssl and sha256sum: it must verify the CA hash and the package
// checksum before installing anything.
describe.skipIf(!haveOpenssl)('install.sh run with stand-in tools', () => {
  async function runScript(options: { caHash: string; corrupt?: boolean }) {
    const work = mkdtempSync(join(tmpdir(), 'install-run-'));
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const served = join(work, 'served');
    mkdirSync(served);
    writeFileSync(join(served, 'ca.json'), JSON.stringify({ caCert: caPem }));
    writeFileSync(join(served, 'pkg'), options.corrupt ? 'tampered' : 'new agent');
    const log = join(work, 'calls.log');
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    // curl stand-in: records its argv, writes the file the URL names to the -o target.
    stub(
      'curl',
      `echo "curl $*" >>${log}; out=""; url=""; while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift;; https://*) url=$1;; esac; shift; done
case "$url" in */v1/join/ca) cp ${served}/ca.json "$out";; */v1/packages/*) cp ${served}/pkg "$out";; *) exit 22;; esac`,
    );
    stub('id', 'echo 0');
    stub('dpkg', `case "$1" in --print-architecture) echo amd64;; *) echo "dpkg $*" >>${log};; esac`);
    stub('apt-get', `echo "apt-get $*" >>${log}`);
    stub('ballast-agent', `echo "ballast-agent $*" >>${log}`);
    const script = (await app.inject({ method: 'GET', url: '/install.sh' })).body;
    const r = spawnSync('sh', ['-s', '--', '--token', 'abc.def', '--ca-hash', options.caHash, '--name', 'host1'], {
      input: script,
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env.PATH}` },
      timeout: 20_000,
    });
    let calls = '';
    try {
      calls = readFileSync(log, 'utf8');
    } catch {
      calls = '';
    }
    rmSync(work, { recursive: true, force: true });
    return { status: r.status, stderr: r.stderr, calls };
  }

  it('pins, verifies, installs and joins', async () => {
    const r = await runScript({ caHash });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls).toContain(`--pinnedpubkey ${spkiPin(caPem)}`);
    expect(r.calls).toMatch(/curl -fsS --cacert \S+\/ca\.crt https:\/\/198\.18\.0\.2:9443\/v1\/packages\/ballast-agent_0\.10\.0_amd64\.deb/);
    expect(r.calls).toMatch(/^dpkg -i \S+ballast-agent_0\.10\.0_amd64\.deb$/m);
    expect(r.calls).toContain(`ballast-agent join --server https://198.18.0.2:9443 --token abc.def --ca-hash ${caHash} --name host1`);
  });

  it('installs nothing when the CA does not match the hash', async () => {
    const r = await runScript({ caHash: `sha256:${'0'.repeat(64)}` });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed to verify the controller's CA/);
    expect(r.calls).not.toMatch(/^dpkg|^ballast-agent/m);
  });

  it('installs nothing when the package does not match its checksum', async () => {
    const r = await runScript({ caHash, corrupt: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(r.calls).not.toMatch(/^dpkg|^ballast-agent/m);
  });
});

describe('helpers', () => {
  it('orders versions numerically', () => {
    expect(['0.10.0', '0.2.0', '0.1.0+lab2', '0.1.0'].sort(compareVersions)).toEqual(['0.1.0', '0.1.0+lab2', '0.2.0', '0.10.0']);
  });
  it.skipIf(!haveOpenssl)('builds the one-liner with the serving key pin and the CA hash', () => {
    const line = installCommand({ serverUrl: 'https://c:9443', token: 't.s', caHash, serverCertPem: caPem });
    expect(line).toBe(
      `curl -fsSL -k --pinnedpubkey '${spkiPin(caPem)}' -o ballast-install.sh https://c:9443/install.sh && sh ballast-install.sh --token t.s --ca-hash ${caHash}`,
    );
    const expected = spawnSync('sh', ['-c', `openssl x509 -in ${join(dir, 'ca.crt')} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`], { encoding: 'utf8' });
    expect(spkiPin(caPem)).toBe(`sha256//${expected.stdout.trim()}`);
  });
});
