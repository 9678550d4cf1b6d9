/** A minimal HTTPS JSON client for the controller API (CA pinned, keep-alive, bounded by a timeout). */
import { Agent, request } from 'node:https';

/** The status and parsed body (text when not JSON) of one call. */
export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

/** Options of {@link ApiClient}. */
export interface ApiClientOptions {
  baseUrl: string;
  /** CA certificate (PEM); omitted = do not verify (readiness probes only). */
  caCert?: string;
  token?: string;
  /** Keep-alive sockets, for concurrent enrolment. */
  maxSockets?: number;
  timeoutMs?: number;
}

/** See the file comment. */
export class ApiClient {
  private readonly agent: Agent;

  constructor(private readonly opts: ApiClientOptions) {
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: opts.maxSockets ?? 4,
      ...(opts.caCert === undefined ? { rejectUnauthorized: false } : { ca: opts.caCert }),
    });
  }

  call(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((res, rej) => {
      const req = request(
        `${this.opts.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          timeout: this.opts.timeoutMs ?? 30_000,
          headers: {
            ...(this.opts.token === undefined ? {} : { authorization: `Bearer ${this.opts.token}` }),
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (d: Buffer) => chunks.push(d));
          r.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            if ((r.headers['content-type'] ?? '').includes('json')) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            res({ status: r.statusCode ?? 0, body: parsed, text });
          });
          r.on('error', rej);
        },
      );
      req.on('error', rej);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like `call` but throws unless the status is 2xx. */
  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.call(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
    return r.body;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Reads a string property of an unknown JSON value, or throws naming it. */
export function stringField(value: unknown, key: string): string {
  if (typeof value === 'object' && value !== null && key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'string') return v;
  }
  throw new Error(`response has no string "${key}"`);
}
