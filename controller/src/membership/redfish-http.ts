/**
 * One Redfish request as a BMC answers it: Basic auth, the BMC's own CA (or the system's roots),
 * same-origin redirects followed (sushy-tools answers a system addressed by name with a 307 to its
 * UUID path; a redirect to another origin is refused, it would carry the password there), the body
 * bounded, and every failure sorted into "retry" (the BMC is busy, rebooting or slow) or "stop" (the
 * configuration is wrong: credentials, certificate, address) — retrying a wrong password for 60 s
 * only delays the reason the operator needs.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { messageOf } from '../../../shared/src/errors.js';

/** Largest body read from a BMC; a ComputerSystem is a few KiB. */
const MAX_BODY = 1024 * 1024;
const MAX_REDIRECTS = 3;

/** Where and how to reach one BMC. */
export interface BmcEndpoint {
  username: string;
  password: string;
  /** PEM CA(s) the BMC's certificate must chain to; absent: the system's roots. */
  ca?: string;
}

/** A request's answer (after redirects). */
export interface BmcAnswer {
  status: number;
  body: string;
  /** The URL that answered (the last redirect's target). */
  url: string;
}

/**
 * A failed request. `permanent`: retrying cannot help (credentials, certificate, the system does not
 * exist, a redirect elsewhere, a reset type the BMC does not offer); otherwise the next try may work.
 */
export class BmcError extends Error {
  /** The request got no answer within its time (not a refusal or an error answer). */
  readonly timedOut: boolean;
  constructor(
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown; timedOut?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BmcError';
    this.timedOut = options?.timedOut === true;
  }
}

/** TLS verification failures: the certificate is not the one configured, retrying will not change it. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

/** Network failures with the words an operator needs; the BMC may be rebooting, so they are retried. */
const NET_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the BMC up, is this its address and port?)',
  ECONNRESET: 'connection reset by the BMC',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'name not found in DNS',
  EAI_AGAIN: 'name lookup failed (temporary)',
};

/** The `error.message` of a Redfish error body (DMTF's `{"error": {"message", "@Message.ExtendedInfo"}}`), or the body's start. */
export function redfishErrorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; '@Message.ExtendedInfo'?: Array<{ Message?: unknown }> } };
    const info = parsed.error?.['@Message.ExtendedInfo']?.find((m) => typeof m.Message === 'string')?.Message;
    const text = typeof info === 'string' ? info : parsed.error?.message;
    if (typeof text === 'string') return text.slice(0, 300);
  } catch {
    // not JSON: the body's start says more than nothing
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/**
 * Sends one request (and up to 3 same-origin redirects), within `timeoutMs` in all, aborted by
 * `signal`. Throws {@link BmcError}; answers of any status are returned (the caller decides).
 */
export async function bmcRequest(e: BmcEndpoint, o: { method: 'GET' | 'POST'; url: string; body?: unknown; timeoutMs: number; signal: AbortSignal }): Promise<BmcAnswer> {
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]);
  const origin = new URL(o.url).origin;
  let url = o.url;
  for (let hop = 0; ; hop++) {
    const res = await once(e, o.method, url, o.body, signal, o.timeoutMs);
    const location = res.status >= 301 && res.status <= 308 && res.status !== 304 ? res.location : undefined;
    if (location === undefined) return { status: res.status, body: res.body, url };
    const next = new URL(location, url);
    if (next.origin !== origin) throw new BmcError(`${url} redirected to another origin (${next.origin}); refused, it would get the credentials`, true);
    if (hop >= MAX_REDIRECTS) throw new BmcError(`${o.url} redirected more than ${MAX_REDIRECTS} times`, true);
    url = next.href;
  }
}

function once(e: BmcEndpoint, method: 'GET' | 'POST', url: string, body: unknown, signal: AbortSignal, timeoutMs: number): Promise<{ status: number; body: string; location?: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`${e.username}:${e.password}`).toString('base64')}`,
    accept: 'application/json',
    'odata-version': '4.0',
    ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
  };
  const tls = url.startsWith('https:');
  const fn = tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(url, { method, headers, signal, ...(tls && e.ca !== undefined ? { ca: e.ca } : {}) }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_BODY) {
          res.destroy();
          reject(new BmcError(`${method} ${url}: the answer is larger than ${MAX_BODY} bytes`, false));
          return;
        }
        chunks.push(d);
      });
      res.on('end', () => {
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(location === undefined ? {} : { location }) });
      });
      res.on('error', (err) => reject(classify(err, method, url, signal, timeoutMs)));
    });
    req.on('error', (err) => reject(classify(err, method, url, signal, timeoutMs)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Turns a socket/TLS error into words and a retry decision. */
function classify(err: Error, method: string, url: string, signal: AbortSignal, timeoutMs: number): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const where = `${method} ${url}`;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    // The operation's own signal: hand its reason up unchanged (the engine is stopping or cancelling).
    if (!(reason instanceof DOMException && reason.name === 'TimeoutError')) return reason instanceof Error ? reason : new Error(String(reason));
    return new BmcError(`${where}: no answer within ${fmtMs(timeoutMs)}`, false, { cause: err, timedOut: true });
  }
  if (TLS_CODES.has(code)) {
    return new BmcError(`${where}: the BMC's TLS certificate is not trusted (${code}: ${err.message}); set caFile to the CA that signed it`, true, { cause: err });
  }
  const words = NET_WORDS[code];
  return new BmcError(`${where}: ${words ?? messageOf(err)}`, false, { cause: err });
}

/** `20 s`, `1.5 s`, `300 ms`. */
export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
