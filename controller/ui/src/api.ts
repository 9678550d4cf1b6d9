/**
 * The JSON API client of the web UI: the same routes and bearer token as ballastctl, so the API
 * applies the operator's role exactly as it does for the CLI. Replies are not re-validated here:
 * the controller serialises every reply through the route's response schema (shared/src/*-api.ts,
 * whose types are imported below), and the UI only ever talks to the controller that served it.
 */

/** The controller's error body (shared/src/api.ts ErrorResponseSchema). */
interface ErrorReply {
  code?: string;
  message?: string;
}

/** A refused or failed API call, with the controller's coded error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What pages call; `signal` cancels a long-poll when the page goes away. */
export interface Api {
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
}

/** Largest reply the UI reads (the API's list pages are bounded well below this). */
const MAX_REPLY_CHARS = 8 * 1024 * 1024;

/**
 * An {@link Api} with `token`; `onUnauthenticated` runs on a 401 (token revoked or unknown) so
 * the app can return to the login form.
 */
export function createApi(token: string, onUnauthenticated: () => void): Api {
  const call = async <T>(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal }),
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await res.text();
    if (text.length > MAX_REPLY_CHARS) throw new ApiError(res.status, 'BALLAST_ERR_TOO_LARGE', `reply to ${method} ${path} is over ${MAX_REPLY_CHARS} characters`);
    const parsed: unknown = text === '' ? null : JSON.parse(text);
    if (!res.ok) {
      const err = (parsed ?? {}) as ErrorReply;
      if (res.status === 401) onUnauthenticated();
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? `${method} ${path} answered ${res.status}`);
    }
    return parsed as T;
  };
  return {
    get: (path, signal) => call('GET', path, undefined, signal),
    post: (path, body) => call('POST', path, body ?? {}),
  };
}

/** "CODE: message" for any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
