/**
 * One verified upstream download for `artifacts fetch`: shared/src/verified-download.ts (stream,
 * hash, bound, compare with the pin) opened through this controller's upstream policy (upstream.ts).
 */
import { type ArtifactSpec, artifactLabel } from '../../../shared/src/artifacts-api.js';
import { downloadVerified as download } from '../../../shared/src/verified-download.js';
import { openUpstream, type UpstreamPolicy } from './upstream.js';

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
 * BALLAST_ERR_CHECKSUM_MISMATCH naming the artifact and the expected hash (never the actual one).
 * A partial or mismatching `dest` is left for the caller's work-dir clean-up.
 */
export function downloadVerified(opts: DownloadOptions): Promise<{ size: number }> {
  const what = `artifact ${artifactLabel(opts.spec)}`;
  return download({
    what,
    url: opts.spec.url,
    sha256: opts.spec.sha256,
    dest: opts.dest,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBytes,
    open: (signal) => openUpstream(opts.spec.url, { policy: opts.policy, signal, what }),
    outcome: 'nothing was imported',
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
}
