/**
 * One GET with checked redirects, shared by the controller's `artifacts fetch` (whose policy keeps
 * it to https on configured upstreams at public addresses: controller/src/artifacts/upstream.ts) and
 * ballastctl's `artifacts bundle` (https to anywhere the operator's catalogue names, plus plain http
 * to an explicitly named loopback registry). The caller's policy judges the first URL and every
 * redirect before a socket is opened; this module only follows them.
 *
 * No fastify, no controller state: ballastctl imports it without pulling the server in.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { httpRequest } from './node-http.js';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { BallastError } from './errors.js';

/** Redirects followed at most, each re-checked. */
export const MAX_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Where a GET may go; see the module comment. */
export interface HttpGetPolicy {
  /**
   * Judges a URL (the first one or a redirect) before connecting: returns it parsed or throws a
   * coded error. `prefix` is the "failed to fetch X from URL" part of the message to throw.
   */
  checkUrl(url: string, prefix: string): URL;
  /** Resolves names for the socket (the controller checks the addresses here); default: the system's. */
  lookup?: (prefix: string) => LookupFunction;
  /** Trusted CAs (PEM); replaces node's default store, so callers that extend it pass tls.rootCertificates too. */
  ca?: string | string[];
  /** The User-Agent header. */
  userAgent: string;
}

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  policy: HttpGetPolicy;
  signal: AbortSignal;
  /** Names the download in messages, e.g. "artifact etcd 3.5.12 (amd64)". */
  what: string;
  /** Extra request headers; `authorization` is sent only to the first URL's origin, never after a redirect elsewhere. */
  headers?: Record<string, string>;
  /**
   * The Authorization header for one hop, asked again after every redirect (a registry's token is
   * for the host that issued the challenge: registry.k8s.io redirects to its backends, which
   * challenge, and their storage, which must not see the token).
   */
  authorization?: (url: URL) => string | undefined;
}

/** An answer after redirects: the status, headers, final URL and the body (to be consumed or destroyed). */
export interface HttpGetResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: string;
  body: IncomingMessage;
}

/**
 * GETs `url`, following up to {@link MAX_REDIRECTS} redirects, each judged by the policy first.
 * Throws the policy's coded errors, BALLAST_ERR_CONNECT for a redirect without Location or too
 * many redirects; socket errors are thrown as they come.
 */
export async function httpGet(url: string, opts: HttpGetOptions): Promise<HttpGetResponse> {
  let current = url;
  const origin = safeOrigin(url);
  for (let hop = 0; ; hop++) {
    const prefix = `failed to fetch ${opts.what} from ${hop === 0 ? url : `${url} (redirected to ${current})`}`;
    const target = opts.policy.checkUrl(current, prefix);
    // A registry's token must not travel to the CDN it redirects blobs to (S3 refuses it anyway).
    const headers = { ...opts.headers };
    if (target.origin !== origin) delete headers.authorization;
    const auth = opts.authorization?.(target);
    if (auth !== undefined) headers.authorization = auth;
    const res = await get(target, { policy: opts.policy, signal: opts.signal, prefix, headers });
    const status = res.statusCode ?? 0;
    if (!REDIRECT_STATUSES.has(status)) return { status, statusText: res.statusMessage ?? '', headers: res.headers, url: target.href, body: res };
    res.destroy(); // the redirect's own body is never wanted
    const location = res.headers.location;
    if (location === undefined || location === '') {
      throw new BallastError('BALLAST_ERR_CONNECT', `failed to fetch ${opts.what} from ${url}: HTTP ${status} without a Location header`);
    }
    if (hop >= MAX_REDIRECTS) {
      throw new BallastError('BALLAST_ERR_CONNECT', `failed to fetch ${opts.what} from ${url}: more than ${MAX_REDIRECTS} redirects`);
    }
    current = new URL(location, target).href;
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

function get(url: URL, opts: { policy: HttpGetPolicy; signal: AbortSignal; prefix: string; headers: Record<string, string> }): Promise<IncomingMessage> {
  const { ca, lookup } = opts.policy;
  const options = {
    method: 'GET',
    // A fresh socket per request: a pooled one would skip the lookup and its check.
    agent: false as const,
    signal: opts.signal,
    headers: { accept: '*/*', 'user-agent': opts.policy.userAgent, ...opts.headers },
    ...(lookup === undefined ? {} : { lookup: lookup(opts.prefix) }),
  };
  return new Promise((resolve, reject) => {
    const req = url.protocol === 'http:' ? httpRequest(url, options) : httpsRequest(url, { ...options, ...(ca === undefined ? {} : { ca }) });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}
