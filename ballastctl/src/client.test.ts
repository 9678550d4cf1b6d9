// reflect-metadata must load before @peculiar/x509 (its DI container checks for it at import).
import 'reflect-metadata';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { Type } from '@sinclair/typebox';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WhoAmIResponseSchema } from '../../shared/src/api.js';
import { ApiClient } from './client.js';
import { AbortedError, CtlError } from './errors.js';

x509.cryptoProvider.set(globalThis.crypto);

/** A self-signed certificate for 127.0.0.1, usable both as the server's certificate and as its CA. */
async function selfSigned(cn: string): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await globalThis.crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const pkcs8 = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function listen(server: http.Server, handler: Handler): Promise<string> {
  server.on('request', handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = server instanceof https.Server ? 'https' : 'http';
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const whoami: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ name: 'admin', role: 'admin' }));
};

function client(server: string, caCert: string, extra: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}): ApiClient {
  return new ApiClient({ server: new URL(server), caCert, token: 't', ...extra });
}

async function failure(promise: Promise<unknown>): Promise<CtlError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CtlError);
  return err as CtlError;
}

describe('ApiClient over TLS', () => {
  let serverPair: { cert: string; key: string };
  let otherCa: { cert: string; key: string };
  beforeAll(async () => {
    serverPair = await selfSigned('ballast-controller');
    otherCa = await selfSigned('someone-else');
  });

  it('trusts exactly the pinned CA', async () => {
    const url = await listen(https.createServer({ cert: serverPair.cert, key: serverPair.key }), whoami);
    const api = client(url, serverPair.cert);
    expect(await api.get('/v1/whoami', WhoAmIResponseSchema)).toEqual({ name: 'admin', role: 'admin' });
    api.close();
  });

  it('reports a different CA as a certificate problem naming the server', async () => {
    const url = await listen(https.createServer({ cert: serverPair.cert, key: serverPair.key }), whoami);
    const api = client(url, otherCa.cert);
    const err = await failure(api.get('/v1/whoami', WhoAmIResponseSchema));
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(new RegExp(`^certificate problem with controller ${url}: [A-Z_]+ \\(.+\\); does the config's caCert belong to this server\\?$`));
    api.close();
  });

  it('reports TLS spoken to a plain HTTP port as a handshake failure', async () => {
    const url = await listen(http.createServer(), whoami);
    const err = await failure(client(url.replace('http:', 'https:'), serverPair.cert).get('/v1/whoami', WhoAmIResponseSchema));
    expect(err.message).toMatch(
      /^TLS handshake with controller https:\/\/127\.0\.0\.1:\d+ failed: EPROTO \(wrong version number\); is this the controller's HTTPS port\?$/,
    );
  });
});

describe('ApiClient limits', () => {
  it('times out a request that gets no answer', async () => {
    const url = await listen(http.createServer(), () => undefined);
    const err = await failure(client(url, '', { timeoutMs: 100 }).get('/v1/whoami', WhoAmIResponseSchema));
    expect(err.message).toBe(`controller ${url} did not answer GET /v1/whoami within 0.1s`);
  });

  it('bounds the response body', async () => {
    const url = await listen(http.createServer(), (_req, res) => res.end(JSON.stringify({ items: 'x'.repeat(10_000) })));
    const err = await failure(client(url, '', { maxBodyBytes: 1000 }).get('/v1/x', Type.Unknown()));
    expect(err.message).toBe(`response from controller ${url} exceeds 1000 bytes`);
  });

  it('keeps a base path and encodes the query', async () => {
    const seen: string[] = [];
    const url = await listen(http.createServer(), (req, res) => {
      seen.push(req.url ?? '');
      whoami(req, res);
    });
    await client(`${url}/ballast/`, '').get('/v1/whoami', WhoAmIResponseSchema, { query: { host: 'a b', after: 3, limit: undefined } });
    expect(seen).toEqual(['/ballast/v1/whoami?host=a+b&after=3']);
  });

  it('rejects with AbortedError when the signal aborts', async () => {
    const url = await listen(http.createServer(), () => undefined);
    const interrupt = new AbortController();
    const pending = client(url, '', { signal: interrupt.signal }).get('/v1/whoami', WhoAmIResponseSchema);
    setTimeout(() => interrupt.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
  });

  it('explains a non-JSON error page', async () => {
    const url = await listen(http.createServer(), (_req, res) => {
      res.writeHead(502);
      res.end('<html>bad gateway</html>');
    });
    const err = await failure(client(url, '').get('/v1/whoami', WhoAmIResponseSchema));
    expect(err.message).toBe('HTTP_502: <html>bad gateway</html>');
  });
});
