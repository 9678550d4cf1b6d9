/**
 * One verified download, shared by the controller's `artifacts fetch` and ballastctl's `artifacts
 * bundle`: streamed to a new file while hashing, bounded in size and time, and accepted only if the
 * sha256 matches the pin (k0s autopilot's downloader does the same). The caller gives the file its
 * final name only afterwards. Where it may connect is the `open` callback's business (the
 * controller's upstream policy, or the CLI's).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { writeStreamToFile } from './artifacts-archive.js';
import { BallastError, isBallastError, messageOf } from './errors.js';
import type { HttpGetResponse } from './http-get.js';

/** Bytes so far and the announced total (Content-Length), for progress displays. */
export interface DownloadProgress {
  bytes: number;
  /** Undefined when the server announced no length. */
  total: number | undefined;
}

/** Options of {@link downloadVerified}. */
export interface VerifiedDownloadOptions {
  /** Names the download in messages, e.g. "artifact etcd 3.5.12 (amd64)". */
  what: string;
  url: string;
  /** The pin, lower-case hex. */
  sha256: string;
  /** New file to create (exclusively). */
  dest: string;
  timeoutMs: number;
  maxBytes: number;
  /** Opens the URL (following checked redirects) with the given signal. */
  open: (signal: AbortSignal) => Promise<HttpGetResponse>;
  signal?: AbortSignal;
  /** What a mismatch message ends with, e.g. "nothing was imported". */
  outcome: string;
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * Downloads to `dest` and checks the sha256. Throws what `open` throws for refused URLs,
 * BALLAST_ERR_CONNECT when the server cannot be reached, answers non-2xx or is too slow,
 * BALLAST_ERR_TOO_LARGE past `maxBytes`, and BALLAST_ERR_CHECKSUM_MISMATCH naming the download, the
 * URL and the expected hash. The actual digest is never reported: it would let a caller learn the
 * hash of whatever a URL serves (issue 16 point 10). A partial or mismatching `dest` is left for
 * the caller's work-dir clean-up.
 */
export async function downloadVerified(opts: VerifiedDownloadOptions): Promise<{ size: number }> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]);
  const failed = (why: string, cause?: unknown) => new BallastError('BALLAST_ERR_CONNECT', `failed to fetch ${opts.what} from ${opts.url}: ${why}`, { cause });
  let response: HttpGetResponse;
  try {
    response = await opts.open(signal);
  } catch (err) {
    if (isBallastError(err)) throw err;
    throw failed(timeout.aborted ? `no answer within ${opts.timeoutMs} ms` : causeText(err), err);
  }
  if (response.status < 200 || response.status > 299) {
    response.body.destroy();
    throw failed(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  const length = Number(response.headers['content-length']);
  const total = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
  let result: { sha256: string; size: number };
  try {
    const source = opts.onProgress === undefined ? response.body : response.body.pipe(progressTap(total, opts.onProgress));
    if (source !== response.body) response.body.on('error', (err) => source.destroy(err));
    result = await writeStreamToFile(source, opts.dest, { maxBytes: opts.maxBytes, signal, what: opts.what });
  } catch (err) {
    response.body.destroy();
    if (isBallastError(err)) throw err;
    throw failed(timeout.aborted ? `download did not finish within ${opts.timeoutMs} ms` : causeText(err), err);
  }
  if (result.sha256 !== opts.sha256) {
    throw new BallastError(
      'BALLAST_ERR_CHECKSUM_MISMATCH',
      `failed to fetch ${opts.what} from ${opts.url}: expected sha256 ${opts.sha256}, the download did not match; ${opts.outcome}`,
    );
  }
  return { size: result.size };
}

function progressTap(total: number | undefined, report: (p: DownloadProgress) => void): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      bytes += chunk.length;
      report({ bytes, total });
      done(null, chunk);
    },
  });
}

/** Socket errors carry a code (ECONNREFUSED …); show it with the message. */
function causeText(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !messageOf(err).includes(code) ? `${code} (${messageOf(err)})` : messageOf(err);
}
