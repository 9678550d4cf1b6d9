/**
 * One verified upstream download for `artifacts fetch`: streamed to a work-dir file while hashing,
 * bounded in size and time, and accepted only if the sha256 matches the catalogue's pin (k0s
 * autopilot's downloader does the same). The caller gives the file its final name only afterwards.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type ArtifactSpec, artifactLabel } from '../../../shared/src/artifacts-api.js';
import { writeStreamToFile } from '../../../shared/src/artifacts-archive.js';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';

/** The part of WHATWG fetch a download needs; tests may substitute their own. */
export type FetchPort = (url: string, init: { signal: AbortSignal; redirect: 'follow' }) => Promise<Response>;

/** Options of {@link downloadVerified}. */
export interface DownloadOptions {
  spec: ArtifactSpec;
  /** New file to create (exclusively). */
  dest: string;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
  fetch?: FetchPort;
}

/**
 * Downloads `spec.url` to `dest` and checks its sha256. Throws BALLAST_ERR_CONNECT when the server
 * cannot be reached, answers non-2xx or is too slow, and BALLAST_ERR_CHECKSUM_MISMATCH naming the
 * artifact, the expected and the actual hash. A partial or mismatching `dest` is left for the
 * caller's work-dir clean-up.
 */
export async function downloadVerified(opts: DownloadOptions): Promise<{ size: number }> {
  const { spec } = opts;
  const label = artifactLabel(spec);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]);
  const failed = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_CONNECT', `failed to fetch artifact ${label} from ${spec.url}: ${why}`, { cause });
  const doFetch: FetchPort = opts.fetch ?? ((url, init) => fetch(url, init));
  let response: Response;
  try {
    response = await doFetch(spec.url, { signal, redirect: 'follow' });
  } catch (err) {
    throw failed(timeout.aborted ? `no answer within ${opts.timeoutMs} ms` : causeText(err), err);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw failed(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  let result: { sha256: string; size: number };
  try {
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    result = await writeStreamToFile(body, opts.dest, { maxBytes: opts.maxBytes, signal, what: `artifact ${label}` });
  } catch (err) {
    if (isBallastError(err)) throw err;
    throw failed(timeout.aborted ? `download did not finish within ${opts.timeoutMs} ms` : causeText(err), err);
  }
  if (result.sha256 !== spec.sha256) {
    throw new BallastError(
      'BALLAST_ERR_CHECKSUM_MISMATCH',
      `failed to fetch artifact ${label} from ${spec.url}: expected sha256 ${spec.sha256}, got ${result.sha256}; nothing was imported`,
    );
  }
  return { size: result.size };
}

/** undici hides the socket error in `cause` ("fetch failed"); show the useful part. */
function causeText(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return `${code} (${messageOf(cause)})`;
  return cause === undefined ? messageOf(err) : `${messageOf(err)}: ${messageOf(cause)}`;
}
