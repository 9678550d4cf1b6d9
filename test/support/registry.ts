/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with
 * filesystem storage in a temp dir, plus a minimal push (monolithic blob upload: POST then PUT
 * with the digest; PUT manifest) to put small test images into it, and an https "token gate" in
 * front of it that speaks the anonymous bearer-token flow registry.k8s.io and Docker Hub use.
 * The registry is started by PID and killed by PID; nothing else is signalled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Where Debian's package installs the registry. */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Why registry tests cannot run here, or null. */
export function registryMissing(): string | null {
  return existsSync(REGISTRY_BIN) ? null : `${REGISTRY_BIN} is not installed (apt-get install docker-registry; scripts/install-lab-deps.sh does)`;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A running registry. */
export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:40123. */
  host: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `docker-registry serve` on a free loopback port with storage under `dir`. */
export async function startRegistry(dir: string, port: number): Promise<TestRegistry> {
  const config = join(dir, 'registry.yml');
  await writeFile(
    config,
    ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'),
  );
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${output}`);
    const ok = await send('GET', `http://${host}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host}: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A plain-http request to the registry; returns status, headers and body. */
function send(method: string, url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** Uploads one blob monolithically (POST an upload session, PUT the bytes with their digest). */
async function pushBlob(host: string, repo: string, data: Buffer): Promise<string> {
  const digest = `sha256:${sha(data)}`;
  const start = await send('POST', `http://${host}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`POST blob upload: HTTP ${start.status} ${start.body}`);
  const location = new URL(String(start.headers.location), `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await send('PUT', location.href, data, { 'content-type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`PUT blob ${digest}: HTTP ${put.status} ${put.body}`);
  return digest;
}

async function putManifest(host: string, repo: string, reference: string, mediaType: string, doc: unknown): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const r = await send('PUT', `http://${host}/v2/${repo}/manifests/${reference}`, bytes, { 'content-type': mediaType });
  if (r.status !== 201) throw new Error(`PUT manifest ${repo}:${reference}: HTTP ${r.status} ${r.body}`);
  return { digest: `sha256:${sha(bytes)}`, size: bytes.length };
}

/** A minimal tar (one regular file) for a test layer. */
function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

/** What was pushed: the platform manifest's and config's digests, for assertions. */
export interface PushedImage {
  repo: string;
  tag: string;
  /** Config digest: the image ID. */
  configDigest: string;
  layerDigests: string[];
  /** The linux/amd64 manifest's digest. */
  manifestDigest: string;
}

/**
 * Pushes a two-layer linux/amd64 image (and, with `index`, a linux/arm64 sibling behind an OCI
 * index) as `repo:tag`.
 */
export async function pushTestImage(host: string, repo: string, tag: string, opts: { index?: boolean } = {}): Promise<PushedImage> {
  const image = async (arch: string) => {
    const layers = [tarOf('hello.txt', Buffer.from(`hello from ${repo} ${arch}\n`)), tarOf('etc/motd', randomBytes(2048))];
    const gz = layers.map((l) => gzipSync(l));
    const layerDigests: string[] = [];
    for (const g of gz) layerDigests.push(await pushBlob(host, repo, g));
    const config = Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        config: { Cmd: ['/hello.txt'] },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l)}`) },
      }),
    );
    const configDigest = await pushBlob(host, repo, config);
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    const manifest = {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: gz.map((g, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigests[i]!, size: g.length })),
    };
    const put = await putManifest(host, repo, opts.index === true ? `${tag}-${arch}` : tag, mediaType, manifest);
    return { configDigest, layerDigests, manifestDigest: put.digest, size: put.size, mediaType };
  };
  const amd64 = await image('amd64');
  if (opts.index === true) {
    const arm64 = await image('arm64');
    const indexType = 'application/vnd.oci.image.index.v1+json';
    await putManifest(host, repo, tag, indexType, {
      schemaVersion: 2,
      mediaType: indexType,
      manifests: [
        { mediaType: arm64.mediaType, digest: arm64.manifestDigest, size: arm64.size, platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: amd64.mediaType, digest: amd64.manifestDigest, size: amd64.size, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    });
  }
  return { repo, tag, configDigest: amd64.configDigest, layerDigests: amd64.layerDigests, manifestDigest: amd64.manifestDigest };
}

/** An https front of a registry that demands an anonymous bearer token, as registry.k8s.io's backends do. */
export interface TokenGate {
  /** host:port of the gate (https, certificate from `tls`). */
  host: string;
  /** Tokens handed out so far. */
  issued: string[];
  /** Requests the gate refused with 401. */
  challenged: number;
  close(): Promise<void>;
}

/**
 * Starts the gate on 127.0.0.1: `/v2/…` without a valid `Authorization: Bearer` is a 401 with
 * `WWW-Authenticate: Bearer realm="https://<gate>/token",service="test-registry",scope="repository:<repo>:pull"`;
 * `/token?service=…&scope=…` hands out a random token; valid requests are proxied to `upstream`.
 */
export async function startTokenGate(upstream: string, tls: { key: string; cert: string }): Promise<TokenGate> {
  const gate: TokenGate = { host: '', issued: [], challenged: 0, close: async () => undefined };
  const server = createHttpsServer(tls, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `https://${gate.host}`);
    if (url.pathname === '/token') {
      if (url.searchParams.get('service') !== 'test-registry' || !(url.searchParams.get('scope') ?? '').startsWith('repository:')) {
        res.writeHead(400).end('bad token request');
        return;
      }
      const token = randomBytes(16).toString('hex');
      gate.issued.push(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!gate.issued.some((t) => auth === `Bearer ${t}`)) {
      gate.challenged += 1;
      const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
      res
        .writeHead(401, { 'www-authenticate': `Bearer realm="https://${gate.host}/token",service="test-registry",scope="repository:${repo}:pull"`, 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const proxied = httpRequest(`http://${upstream}${req.url}`, { method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    proxied.on('error', () => res.writeHead(502).end());
    proxied.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  gate.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return gate;
}

/** An https front that answers every request with a 307 to the same path on `target` (registry.k8s.io redirects to its backends this way). */
export async function startRedirector(target: string, tls: { key: string; cert: string }): Promise<{ host: string; redirected: number; close(): Promise<void> }> {
  const state: { host: string; redirected: number; close(): Promise<void> } = { host: '', redirected: 0, close: async () => undefined };
  const server = createHttpsServer(tls, (req: IncomingMessage, res: ServerResponse) => {
    state.redirected += 1;
    res.writeHead(307, { location: `https://${target}${req.url ?? '/'}` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
