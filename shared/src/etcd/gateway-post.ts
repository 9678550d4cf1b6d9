/**
 * One JSON POST to one etcd JSON gRPC-gateway endpoint (`/v3/…`): the HTTP exchange both etcd
 * clients share — `client.ts` (rare membership calls: a fresh connection per call, endpoint
 * fail-over) and the agent's `etcd/lease.ts` (the VIP election: one endpoint, a kept-alive
 * connection, no fail-over). Connection reuse and fail-over stay with the callers: this helper
 * only sends through whatever `agent` it is given, to the one endpoint it is given.
 *
 * What it guarantees: a hard deadline (`timeoutMs`) and the caller's AbortSignal both end the
 * exchange by destroying the request (so a half-dead socket is never reused); answers over
 * `maxResponseBytes` are cut off; the answer is parsed as JSON (an empty body is `{}`). What it
 * leaves to the caller: the meaning of the HTTP status and of the gateway's error body, so each
 * client keeps its own error codes and messages.
 */
import { httpRequest } from '../node-http.js';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { BallastError, messageOf } from '../errors.js';

/** Options of {@link postGatewayJson}. */
export interface GatewayPostOptions {
  /** The endpoint (`https://host:2379`) `path` is resolved against. */
  endpoint: string | URL;
  /** The gateway path, e.g. `/v3/lease/keepalive`. */
  path: string;
  /** Sent as JSON. */
  body: unknown;
  /** https (the default for etcd) or plain http (loopback tests only). */
  secure: boolean;
  /** Connection options besides method and headers: the `agent` and/or the TLS material. */
  connection: RequestOptions;
  timeoutMs: number;
  /** Aborting ends the exchange at once with BALLAST_ERR_CANCELLED. */
  signal?: AbortSignal;
  maxResponseBytes: number;
  /**
   * Record whether the request may have reached the server (the TLS handshake completed), as
   * {@link GatewayTransportFailure.delivered}. Only meaningful with a fresh connection per call
   * (`agent: false`): a reused kept-alive socket never handshakes again (and would collect a
   * listener per call), so leave it off there; `delivered` is then false for a timeout or a
   * request error.
   */
  trackDelivery?: boolean;
}

/** A parsed answer of any HTTP status; the caller decides what a non-2xx means. */
export interface GatewayAnswer {
  status: number;
  body: unknown;
}

/**
 * The endpoint did not give a usable answer: no answer in time, a transport error, an answer over
 * the size cap, or a body that is not JSON. `delivered`: the request may have reached etcd.
 */
export class GatewayTransportFailure extends Error {
  constructor(
    message: string,
    readonly delivered: boolean,
  ) {
    super(message);
    this.name = 'GatewayTransportFailure';
  }
}

/**
 * POSTs `body` to `path` at `endpoint` (see the file comment). Resolves with the status and parsed
 * body; rejects with a {@link GatewayTransportFailure} or BALLAST_ERR_CANCELLED.
 */
export function postGatewayJson(opts: GatewayPostOptions): Promise<GatewayAnswer> {
  const { path, signal, timeoutMs, maxResponseBytes: maxBytes } = opts;
  const payload = JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    let delivered = false;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (message: string, wasDelivered: boolean) => reject(new GatewayTransportFailure(message, wasDelivered));
    const req = (opts.secure ? httpsRequest : httpRequest)(
      new URL(path, opts.endpoint),
      { ...opts.connection, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            finish(() => fail(`answered more than ${maxBytes} bytes`, true));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(() => fail(messageOf(err), true)));
        res.on('end', () => finish(() => settle(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      },
    );
    const settle = (status: number, text: string) => {
      let parsed: unknown;
      try {
        parsed = text === '' ? {} : JSON.parse(text);
      } catch {
        fail(`answered HTTP ${status} with a body that is not JSON: ${text.slice(0, 120)}`, true);
        return;
      }
      resolve({ status, body: parsed });
    };
    const onAbort = () => {
      req.destroy();
      finish(() => reject(new BallastError('BALLAST_ERR_CANCELLED', `failed to call etcd ${path}: cancelled`)));
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish(() => fail(`no answer within ${timeoutMs} ms`, delivered));
    }, timeoutMs);
    if (opts.trackDelivery === true) {
      req.on('socket', (socket) => {
        (socket as TLSSocket).once('secureConnect', () => {
          delivered = true;
        });
      });
    }
    req.on('error', (err: NodeJS.ErrnoException) => finish(() => fail(err.code ?? err.message, delivered)));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(payload);
  });
}
