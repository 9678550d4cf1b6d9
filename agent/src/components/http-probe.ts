import { readFile } from 'node:fs/promises';
import { httpRequest } from '../../../shared/src/node-http.js';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { messageOf } from '../../../shared/src/errors.js';
import type { ProbeResult } from './supervised-unit.js';

/** Bodies beyond this are not health answers; stop reading. */
const MAX_BODY_BYTES = 64 * 1024;

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  url: string;
  timeoutMs: number;
  /** PEM files for mTLS, read on every call so rotated certificates are picked up. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** A GET with a hard deadline on the whole exchange; resolves with status and (capped) body, rejects on transport errors. */
export async function httpGet(opts: HttpGetOptions): Promise<{ status: number; body: string }> {
  const url = new URL(opts.url);
  const tls = url.protocol === 'https:';
  const [ca, cert, key] = await Promise.all(
    [opts.caFile, opts.certFile, opts.keyFile].map((file) => (file === undefined ? undefined : readFile(file, 'utf8'))),
  );
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(url, { method: 'GET', ca, cert, key, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

/** Any HTTP(S) endpoint answering 2xx. */
export async function probeHttp(opts: HttpGetOptions): Promise<ProbeResult> {
  try {
    const { status, body } = await httpGet(opts);
    const ok = status >= 200 && status < 300;
    return { ok, message: `${opts.url} answered ${status}${ok ? '' : `: ${body.trim().slice(0, 200)}`}` };
  } catch (err) {
    return { ok: false, message: `${opts.url}: ${messageOf(err)}` };
  }
}

/**
 * etcd's /health with the member's client certificate: healthy only when it answers
 * `{"health":"true"}` — etcd answers 503 with `"false"` and a reason when it has no leader.
 * A URL without a path gets `/health`.
 */
export async function probeEtcd(opts: HttpGetOptions): Promise<ProbeResult> {
  const url = new URL(opts.url);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/health';
  try {
    const { status, body } = await httpGet({ ...opts, url: url.toString() });
    let parsed: { health?: unknown; reason?: unknown } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      // Not JSON: reported below with the status.
    }
    if (parsed.health === 'true') return { ok: true, message: `etcd healthy at ${url.origin}` };
    const reason = typeof parsed.reason === 'string' && parsed.reason ? `: ${parsed.reason}` : '';
    return { ok: false, message: `etcd at ${url.origin} answered ${status} health=${String(parsed.health ?? body.trim().slice(0, 100))}${reason}` };
  } catch (err) {
    return { ok: false, message: `etcd at ${url.origin}: ${messageOf(err)}` };
  }
}

/** A TCP port that accepts a connection. */
export function probeTcp(opts: { host: string; port: number; timeoutMs: number }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const where = `${opts.host}:${opts.port}`;
    const socket = connect({ host: opts.host, port: opts.port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `${where}: no connection within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    socket.once('connect', () => finish({ ok: true, message: `${where} accepts connections` }));
    socket.once('error', (err) => finish({ ok: false, message: `${where}: ${messageOf(err)}` }));
  });
}
