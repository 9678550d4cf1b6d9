/**
 * What every fetch policy (shared/src/http-get.ts `HttpGetPolicy.checkUrl`) checks first, whatever
 * else it allows: the controller's `artifacts fetch` (controller/src/artifacts/upstream.ts) and
 * ballastctl's `artifacts bundle` (ballastctl/src/bundle/fetch-policy.ts) both refuse a string that
 * is not a URL and a URL with credentials in it (they would end up in logs and messages), with
 * BALLAST_ERR_UPSTREAM_NOT_ALLOWED. Each policy then judges scheme and host its own way.
 *
 * No fastify, no controller state: ballastctl imports it without pulling the server in.
 */
import { BallastError } from './errors.js';

/** The refusal of `url` by a fetch policy: BALLAST_ERR_UPSTREAM_NOT_ALLOWED, "`prefix`: `why`". */
export function urlRefused(prefix: string, why: string): BallastError {
  return new BallastError('BALLAST_ERR_UPSTREAM_NOT_ALLOWED', `${prefix}: ${why}`);
}

/**
 * `url` parsed; throws {@link urlRefused} when it is not a URL or carries a user name or password.
 * `prefix` is the "failed to fetch X from URL" part of the message.
 */
export function parseFetchUrl(url: string, prefix: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw urlRefused(prefix, `"${url}" is not a URL`);
  }
  if (parsed.username !== '' || parsed.password !== '') throw urlRefused(prefix, 'credentials in the URL are not allowed');
  return parsed;
}
