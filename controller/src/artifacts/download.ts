/**
 * One verified upstream download for `artifacts fetch`: streamed to a work-dir file while hashing,
 * bounded in size and time, and accepted only if the sha256 matches the catalogue's pin (k0s
 * autopilot's downloader does the same). The caller gives the file its final name only afterwards.
 * Where it may connect is upstream.ts's business.
 */
import { type ArtifactSpec, artifactLabel } from '../../../shared/src/artifacts-api.js';
import { writeStreamToFile } from '../../../shared/src/artifacts-archive.js';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';
import { openUpstream, type UpstreamPolicy, type UpstreamResponse } from './upstream.js';

/** Options of {@link downloadVerified}. */
export interface DownloadOptions {
  spec: ArtifactSpec;
  /** New file to create (exclusively). */
  dest: string;
  timeoutMs: number;
  maxBytes: number;
  /** Which hosts and addresses the download may reach. */
  policy: UpstreamPolicy;
  signal?: AbortSignal;
}

/**
 * Downloads `spec.url` to `dest` and checks its sha256. Throws BALLAST_ERR_UPSTREAM_NOT_ALLOWED or
 * BALLAST_ERR_UPSTREAM_ADDRESS (before connecting) when the policy refuses the URL or a redirect,
 * BALLAST_ERR_CONNECT when the server cannot be reached, answers non-2xx or is too slow, and
 * BALLAST_ERR_CHECKSUM_MISMATCH naming the artifact and the expected hash. The actual digest is
 * never reported: it would let a caller learn the hash of whatever a URL serves (issue 16 point 10).
 * A partial or mismatching `dest` is left for the caller's work-dir clean-up.
 */
export async function downloadVerified(opts: DownloadOptions): Promise<{ size: number }> {
  const { spec } = opts;
  const label = artifactLabel(spec);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]);
  const failed = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_CONNECT', `failed to fetch artifact ${label} from ${spec.url}: ${why}`, { cause });
  let response: UpstreamResponse;
  try {
    response = await openUpstream(spec.url, { policy: opts.policy, signal, what: `artifact ${label}` });
  } catch (err) {
    if (isBallastError(err)) throw err;
    throw failed(timeout.aborted ? `no answer within ${opts.timeoutMs} ms` : causeText(err), err);
  }
  if (response.status < 200 || response.status > 299) {
    response.body.destroy();
    throw failed(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  let result: { sha256: string; size: number };
  try {
    result = await writeStreamToFile(response.body, opts.dest, { maxBytes: opts.maxBytes, signal, what: `artifact ${label}` });
  } catch (err) {
    response.body.destroy();
    if (isBallastError(err)) throw err;
    throw failed(timeout.aborted ? `download did not finish within ${opts.timeoutMs} ms` : causeText(err), err);
  }
  if (result.sha256 !== spec.sha256) {
    throw new BallastError(
      'BALLAST_ERR_CHECKSUM_MISMATCH',
      `failed to fetch artifact ${label} from ${spec.url}: expected sha256 ${spec.sha256}, the download did not match; nothing was imported`,
    );
  }
  return { size: result.size };
}

/** Socket errors carry a code (ECONNREFUSED …); show it with the message. */
function causeText(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !messageOf(err).includes(code) ? `${code} (${messageOf(err)})` : messageOf(err);
}
