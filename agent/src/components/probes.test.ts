import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueClientCert, issueServerCert } from '../../../controller/src/pki/ca.js';
import { makeTempRoot } from '../tasks/testing.js';
import { CONTAINERD_VERSION_PATH, firstStringField, probeGrpcUnix } from './grpc-probe.js';
import { probeEtcd, probeHttp, probeTcp } from './http-probe.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function listen<S extends Server | Http2Server | ReturnType<typeof createNetServer>>(server: S, at: string | number = 0): Promise<S> {
  return new Promise((resolve) => {
    server.listen(at, '127.0.0.1' as never, () => resolve(server));
    closers.push(() => new Promise((done) => server.close(() => done())));
  });
}

function listenUnix(server: Http2Server, socket: string): Promise<void> {
  return new Promise((resolve) => {
    server.listen(socket, () => resolve());
    closers.push(() => new Promise((done) => server.close(() => done())));
  });
}

/** A protobuf message with field 1 = `text` (what containerd's VersionResponse looks like). */
function versionReply(text: string): Buffer {
  const payload = Buffer.concat([Buffer.from([0x0a, text.length]), Buffer.from(text)]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(payload.length, 1);
  return Buffer.concat([frame, payload]);
}

describe('containerd probe (real HTTP/2 server on a unix socket)', () => {
  it('calls Version and reports the version', async () => {
    const socket = join(await makeTempRoot(), 'containerd.sock');
    const server = createHttp2Server();
    server.on('stream', (stream, headers) => {
      expect(headers[':path']).toBe(CONTAINERD_VERSION_PATH);
      expect(headers['content-type']).toBe('application/grpc');
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(versionReply('v1.7.24'));
    });
    await listenUnix(server, socket);
    expect(await probeGrpcUnix({ socket, path: CONTAINERD_VERSION_PATH, timeoutMs: 2_000 })).toEqual({
      ok: true,
      message: `${socket} answers (version v1.7.24)`,
    });
  });

  it('counts a gRPC error answer as answering, and a non-gRPC one as not', async () => {
    const socket = join(await makeTempRoot(), 'grpc.sock');
    const server = createHttp2Server();
    server.on('stream', (stream, headers) => {
      if (headers[':path'] === '/plain') {
        stream.respond({ ':status': 404, 'content-type': 'text/plain' });
        stream.end('nope');
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
    });
    await listenUnix(server, socket);
    expect(await probeGrpcUnix({ socket, path: '/x.Y/Z', timeoutMs: 2_000 })).toEqual({ ok: true, message: `${socket} answers (gRPC status 12)` });
    expect(await probeGrpcUnix({ socket, path: '/plain', timeoutMs: 2_000 })).toMatchObject({ ok: false, message: `${socket} answered HTTP 404, not gRPC` });
  });

  it('fails on a missing socket and on silence', async () => {
    const dir = await makeTempRoot();
    const missing = await probeGrpcUnix({ socket: join(dir, 'none.sock'), path: CONTAINERD_VERSION_PATH, timeoutMs: 2_000 });
    expect(missing.ok).toBe(false);
    expect(missing.message).toContain('ENOENT');
    // Reads and ignores (a paused socket would never see our close and keep the server open).
    const silent = createNetServer((s) => s.resume());
    const socket = join(dir, 'silent.sock');
    await new Promise<void>((resolve) => silent.listen(socket, () => resolve()));
    closers.push(() => new Promise((done) => silent.close(() => done())));
    expect(await probeGrpcUnix({ socket, path: CONTAINERD_VERSION_PATH, timeoutMs: 200 })).toEqual({ ok: false, message: `no answer on ${socket} within 200 ms` });
  });

  it('parses only a leading string field', () => {
    expect(firstStringField(Buffer.from([0x0a, 2, 0x68, 0x69]))).toBe('hi');
    expect(firstStringField(Buffer.from([0x12, 2, 0x68, 0x69]))).toBeUndefined();
    expect(firstStringField(Buffer.from([0x0a, 9, 0x68]))).toBeUndefined();
  });
});

describe('etcd probe (real HTTPS server with mTLS)', () => {
  let root: string;
  let serverOpts: { key: string; cert: string; ca: string };
  beforeAll(async () => {
    const ca = await createCa({ commonName: 'etcd-ca' });
    const server = await issueServerCert({ ca, commonName: 'etcd', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const client = await issueClientCert({ ca, commonName: 'healthcheck' });
    root = await makeTempRoot();
    await mkdir(join(root, 'pki'));
    await writeFile(join(root, 'pki/ca.crt'), ca.certPem);
    await writeFile(join(root, 'pki/client.crt'), client.certPem);
    await writeFile(join(root, 'pki/client.key'), client.keyPem);
    serverOpts = { key: server.keyPem, cert: server.certPem, ca: ca.certPem };
  });
  const files = () => ({ caFile: join(root, 'pki/ca.crt'), certFile: join(root, 'pki/client.crt'), keyFile: join(root, 'pki/client.key') });

  async function etcdServer(answer: { status: number; body: string }) {
    const server = createHttpsServer({ ...serverOpts, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.writeHead(req.url === '/health' ? answer.status : 404, { 'content-type': 'application/json' });
      res.end(req.url === '/health' ? answer.body : '{}');
    });
    await listen(server);
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('is healthy on {"health":"true"}, with or without /health in the URL', async () => {
    const base = await etcdServer({ status: 200, body: '{"health":"true","reason":""}' });
    expect(await probeEtcd({ url: `${base}/health`, timeoutMs: 2_000, ...files() })).toEqual({ ok: true, message: `etcd healthy at ${base}` });
    expect((await probeEtcd({ url: base, timeoutMs: 2_000, ...files() })).ok).toBe(true);
  });

  it('is unhealthy on {"health":"false"} with the reason', async () => {
    const base = await etcdServer({ status: 503, body: '{"health":"false","reason":"RAFT NO LEADER"}' });
    expect(await probeEtcd({ url: `${base}/health`, timeoutMs: 2_000, ...files() })).toEqual({
      ok: false,
      message: `etcd at ${base} answered 503 health=false: RAFT NO LEADER`,
    });
  });

  it('fails without a client certificate, and on missing files', async () => {
    const base = await etcdServer({ status: 200, body: '{"health":"true"}' });
    expect((await probeEtcd({ url: base, timeoutMs: 2_000, caFile: files().caFile })).ok).toBe(false);
    const missing = await probeEtcd({ url: base, timeoutMs: 2_000, ...files(), keyFile: join(root, 'pki/none.key') });
    expect(missing).toMatchObject({ ok: false });
    expect(missing.message).toContain('ENOENT');
  });
});

describe('http and tcp probes', () => {
  it('kubelet-style healthz: 2xx is healthy, anything else is not', async () => {
    let status = 200;
    const server = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(status);
        res.end(status === 200 ? 'ok' : 'unhealthy: pleg');
      }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    expect(await probeHttp({ url, timeoutMs: 2_000 })).toEqual({ ok: true, message: `${url} answered 200` });
    status = 500;
    expect(await probeHttp({ url, timeoutMs: 2_000 })).toEqual({ ok: false, message: `${url} answered 500: unhealthy: pleg` });
  });

  it('times out a server that never answers', async () => {
    const server = await listen(createHttpServer(() => {}));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    expect(await probeHttp({ url, timeoutMs: 100 })).toEqual({ ok: false, message: `${url}: no answer within 100 ms` });
    server.closeAllConnections();
  });

  it('tcp: a listening port is healthy, a closed one is not', async () => {
    const server = await listen(createNetServer((s) => s.end()));
    const port = (server.address() as AddressInfo).port;
    expect(await probeTcp({ host: '127.0.0.1', port, timeoutMs: 1_000 })).toEqual({ ok: true, message: `127.0.0.1:${port} accepts connections` });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect((await probeTcp({ host: '127.0.0.1', port, timeoutMs: 1_000 })).ok).toBe(false);
  });
});
