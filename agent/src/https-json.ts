import { request } from 'node:https';
import { BallastError, type ErrorBody } from '../../shared/src/errors.js';

/** Bound on response bodies the agent reads during enrolment. */
const MAX_BODY = 256 * 1024;

/** Options of {@link httpsJson}. */
export interface HttpsJsonOptions {
  url: string;
  method: 'GET' | 'POST';
  body?: unknown;
  /** Trust only this CA; absent = accept any certificate (used once, to fetch the CA we then pin). */
  ca?: string;
  timeoutMs?: number;
}

/**
 * One JSON request over HTTPS. Network and TLS failures become BALLAST_ERR_CONNECT / _TLS naming
 * the server; a non-2xx reply with a coded body is rethrown with the controller's code and message.
 */
export function httpsJson(opts: HttpsJsonOptions): Promise<unknown> {
  const url = new URL(opts.url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method,
        ca: opts.ca,
        rejectUnauthorized: opts.ca !== undefined,
        timeout: opts.timeoutMs ?? 15_000,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY) {
            req.destroy(new BallastError('BALLAST_ERR_CONNECT', `response from ${url.origin} exceeds ${MAX_BODY} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new BallastError('BALLAST_ERR_CONNECT', `${url.origin} answered HTTP ${res.statusCode} with a non-JSON body`));
            return;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve(body);
            return;
          }
          const err = body as Partial<ErrorBody>;
          const code = typeof err.code === 'string' && err.code.startsWith('BALLAST_ERR_') ? (err.code as ErrorBody['code']) : 'BALLAST_ERR_INTERNAL';
          reject(new BallastError(code, `controller ${url.origin} refused: ${err.message ?? `HTTP ${status}`}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new BallastError('BALLAST_ERR_CONNECT', `no answer from ${url.origin} within ${opts.timeoutMs ?? 15_000} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof BallastError) {
        reject(err);
        return;
      }
      const tls = /certificate|self.signed|altname|SSL|TLS/i.test(`${err.code} ${err.message}`);
      reject(
        new BallastError(
          tls ? 'BALLAST_ERR_TLS' : 'BALLAST_ERR_CONNECT',
          tls
            ? `failed to verify controller ${url.origin}: ${err.message}`
            : `cannot reach controller ${url.origin}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      );
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
