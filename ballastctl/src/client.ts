/**
 * The controller API client: HTTPS with the config's CA pinned (not the system trust store, so a
 * public CA cannot impersonate the controller), bearer auth, bounded bodies, timeouts, and
 * TypeBox validation of every response against the shared contract in shared/src/api.ts.
 */
import http from 'node:http';
import https from 'node:https';
import type { Static, TSchema } from '@sinclair/typebox';
import { ErrorResponseSchema } from '../../shared/src/api.js';
import { AbortedError, apiError, CtlError, EXIT_FAILURE } from './errors.js';
import { networkError } from './net-errors.js';
import { ctlVersion } from './version.js';
import { compiledCheck } from '../../shared/src/schema-check.js';

/** Default per-request timeout. Long polls pass their own (wait + 10 s). */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Upper bound on a response body; the largest real answer (host detail, 1000 events) is far below. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** How to reach and authenticate to the controller. */
export interface ClientOptions {
  server: URL;
  caCert: string;
  token: string;
  /** Aborts every in-flight request (Ctrl-C). */
  signal?: AbortSignal;
  timeoutMs?: number;
  maxBodyBytes?: number;
}

/** Per-request options. */
export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  timeoutMs?: number;
}

const checkerFor = compiledCheck;

const checkErrorBody = checkerFor(ErrorResponseSchema);

/** A typed client for the routes listed in shared/src/api.ts. */
export class ApiClient {
  /** The server as shown in messages, e.g. `https://10.0.0.1:9443`. */
  readonly server: string;
  private readonly base: URL;
  private readonly options: ClientOptions;
  // One keep-alive agent per client so watch loops reuse their connection; closed in close().
  private readonly agent: http.Agent;

  constructor(options: ClientOptions) {
    this.options = options;
    this.base = options.server;
    this.server = options.server.href.replace(/\/+$/, '');
    this.agent =
      options.server.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ca: options.caCert, maxSockets: 4 })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** GET `path`, validated against `schema`. */
  get<S extends TSchema>(path: string, schema: S, options: RequestOptions = {}): Promise<Static<S>> {
    return this.request('GET', path, schema, options);
  }

  /** POST a JSON body to `path`, validated against `schema`. */
  post<S extends TSchema>(path: string, body: unknown, schema: S, options: RequestOptions = {}): Promise<Static<S>> {
    return this.request('POST', path, schema, { ...options, body });
  }

  /** DELETE `path`, validated against `schema`. */
  delete<S extends TSchema>(path: string, schema: S, options: RequestOptions = {}): Promise<Static<S>> {
    return this.request('DELETE', path, schema, options);
  }

  /** Releases pooled connections so the process can exit promptly. */
  close(): void {
    this.agent.destroy();
  }

  /** Sends one request and returns the validated body; throws CtlError or AbortedError. */
  async request<S extends TSchema>(method: string, path: string, schema: S, options: RequestOptions = {}): Promise<Static<S>> {
    const url = this.url(path, options.query);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const label = `${method} ${url.pathname}`;
    const { status, text } = await this.send(method, url, payload, options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const body = parseJson(text);
    if (status < 200 || status > 299) throw this.apiError(status, body, text);
    if (body === undefined) throw this.badResponse(label, 'the body is not JSON');
    const check = checkerFor(schema);
    if (!check.Check(body)) {
      const first = check.Errors(body).First();
      throw this.badResponse(label, `${first?.path || '/'}: ${first?.message ?? 'does not match the API schema'}`);
    }
    return body;
  }

  private url(path: string, query: RequestOptions['query']): URL {
    // Keep any base path of the server URL (e.g. behind a reverse proxy at /ballast).
    const url = new URL(this.base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  private send(method: string, url: URL, payload: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
    const { signal, token, caCert } = this.options;
    const maxBytes = this.options.maxBodyBytes ?? MAX_BODY_BYTES;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortedError());
      const headers: http.OutgoingHttpHeaders = {
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        'user-agent': `ballastctl/${ctlVersion()}`,
      };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      let req: http.ClientRequest;
      try {
        req =
          url.protocol === 'https:'
            ? https.request(url, { method, headers, agent: this.agent, ca: caCert })
            : http.request(url, { method, headers, agent: this.agent });
      } catch (err) {
        // A malformed caCert surfaces here, synchronously, as an OpenSSL error.
        return reject(networkError(Object.assign(new Error((err as Error).message), { code: 'ERR_TLS_BAD_CA' }), this.server));
      }
      let settled = false;
      const finish = (error: Error | undefined, value?: { status: number; text: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          req.destroy();
          reject(error);
        } else if (value !== undefined) resolve(value);
      };
      const onAbort = (): void => finish(new AbortedError());
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () => finish(new CtlError(`controller ${this.server} did not answer ${method} ${url.pathname} within ${timeoutMs / 1000}s`, EXIT_FAILURE)),
        timeoutMs,
      );
      req.on('error', (err) => finish(networkError(err, this.server)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            finish(new CtlError(`response from controller ${this.server} exceeds ${maxBytes} bytes`, EXIT_FAILURE));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish(networkError(err, this.server)));
        res.on('close', () => {
          if (!res.complete) finish(new CtlError(`controller ${this.server} closed the connection mid-response`, EXIT_FAILURE));
        });
      });
      req.end(payload);
    });
  }

  private apiError(status: number, body: unknown, text: string): CtlError {
    const parsed = checkErrorBody.Check(body) ? body : undefined;
    const code = parsed?.code ?? `HTTP_${status}`;
    const message = parsed?.message ?? (text.trim().slice(0, 200) || http.STATUS_CODES[status] || 'no message');
    return apiError({ server: this.server, status, code, message });
  }

  private badResponse(label: string, why: string): CtlError {
    // Usually a version skew between ballastctl and the controller; say so rather than print garbage.
    return new CtlError(`unexpected response from controller ${this.server} to ${label}: ${why}`, EXIT_FAILURE);
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
