/**
 * The only way `artifacts fetch` reaches the internet (issue 16 point 10). A URL, and every redirect,
 * must be https to a configured upstream host; the host is resolved here and EVERY address it
 * resolves to must be globally reachable unicast (address-policy.ts). The socket then connects to
 * an address this check returned — the resolution happens inside the request's `lookup` — so a
 * DNS answer that changes between check and connect (rebinding) cannot reach anything else.
 *
 * Redirects: real upstreams redirect to their CDNs (GitHub release downloads to
 * `objects.githubusercontent.com` / `release-assets.githubusercontent.com`, `dl.k8s.io` to
 * `cdn.dl.k8s.io`), so up to MAX_REDIRECTS (shared/src/http-get.ts, which follows them) are followed,
 * each checked by the same rules; the CDN hosts are therefore on the default upstream list.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { BallastError } from '../../../shared/src/errors.js';
import { parseFetchUrl, urlRefused } from '../../../shared/src/fetch-url.js';
import { type HttpGetResponse, httpGet } from '../../../shared/src/http-get.js';
import { PACKAGE_VERSION } from '../../../shared/src/version.js';
import { addressProblem } from './address-policy.js';
import { DEFAULT_CATALOGUE } from './catalogue.js';

/** Where the upstreams of the built-in catalogue redirect their downloads to. */
const CDN_HOSTS = ['objects.githubusercontent.com', 'release-assets.githubusercontent.com', 'cdn.dl.k8s.io'];

/** `--artifact-upstream`'s default: the hosts of the built-in catalogue's URLs, plus their CDNs. */
export const DEFAULT_UPSTREAM_HOSTS: readonly string[] = [...new Set([...DEFAULT_CATALOGUE.map((e) => new URL(e.url).hostname), ...CDN_HOSTS])];

/** Where downloads may go: the controller's `--artifact-upstream` list. */
export interface UpstreamPolicy {
  /** Host names a URL or a redirect may name; exact match, case-insensitive, any port. */
  hosts: readonly string[];
  /**
   * Test seams, settable only by code in the same process (never by a flag, env or config file,
   * so no deployment can switch the address check off): a resolver, an address rule and a CA,
   * so that tests can run a real https upstream on loopback.
   */
  testing?: UpstreamTestSeams;
}

/** See {@link UpstreamPolicy.testing}. */
export interface UpstreamTestSeams {
  /** Replaces DNS (default: the system resolver, every address). */
  resolve?: (host: string) => Promise<LookupAddress[]>;
  /** Replaces the address rule (default: {@link addressProblem}). */
  addressProblem?: (address: string) => string | null;
  /** Extra CA to trust (PEM), for a test server's certificate. */
  ca?: string;
}

/** An upstream's answer after redirects: the status and the body stream (to be consumed or destroyed). */
export type UpstreamResponse = HttpGetResponse;

/**
 * GETs `url` under `policy`, following up to MAX_REDIRECTS redirects. Throws
 * BALLAST_ERR_UPSTREAM_NOT_ALLOWED (not https, host not listed) or BALLAST_ERR_UPSTREAM_ADDRESS (a
 * resolved address is not public) before connecting, and BALLAST_ERR_CONNECT for too many
 * redirects; socket errors are thrown as they come. `what` names the download in messages.
 */
export function openUpstream(url: string, opts: { policy: UpstreamPolicy; signal: AbortSignal; what: string }): Promise<UpstreamResponse> {
  const ca = opts.policy.testing?.ca;
  return httpGet(url, {
    signal: opts.signal,
    what: opts.what,
    policy: {
      checkUrl: (u, prefix) => checkUpstreamUrl(u, opts.policy, prefix),
      lookup: (prefix) => guardedLookup(opts.policy, prefix),
      userAgent: `ballast-controller/${PACKAGE_VERSION}`,
      ...(ca === undefined ? {} : { ca }),
    },
  });
}

/**
 * The checks that need no network: https, a listed host, and an IP-literal host judged directly
 * (node skips `lookup` for literals). `prefix` is the message's "failed to …" part.
 */
export function checkUpstreamUrl(url: string, policy: UpstreamPolicy, prefix: string): URL {
  const parsed = parseFetchUrl(url, prefix);
  if (parsed.protocol !== 'https:') throw urlRefused(prefix, `only https is allowed, not ${parsed.protocol.replace(/:$/, '')}`);
  const host = normalizeHost(parsed.hostname);
  if (!policy.hosts.some((h) => normalizeHost(h) === host)) {
    throw urlRefused(prefix, `${host} is not a configured upstream (--artifact-upstream: ${policy.hosts.join(', ') || 'none'})`);
  }
  if (isIP(host) !== 0) {
    const problem = (policy.testing?.addressProblem ?? addressProblem)(host);
    if (problem !== null) throw new BallastError('BALLAST_ERR_UPSTREAM_ADDRESS', `${prefix}: ${problem}; nothing was fetched`);
  }
  return parsed;
}

/** Lower case, no trailing dot, no IPv6 brackets: `GitHub.com.` and `github.com` are one host. */
function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:https that resolves the host once, refuses the connection unless every
 * address passes the rule, and hands the socket exactly those addresses (happy eyeballs asks for
 * all of them; otherwise the first).
 */
function guardedLookup(policy: UpstreamPolicy, prefix: string): (host: string, options: LookupOptions, callback: LookupCallback) => void {
  const resolveAll = policy.testing?.resolve ?? ((host: string) => dnsLookup(host, { all: true }));
  const rule = policy.testing?.addressProblem ?? addressProblem;
  return (host, options, callback) => {
    resolveAll(host).then(
      (addresses) => {
        const problems = addresses.map((a) => rule(a.address)).filter((p): p is string => p !== null);
        const first = addresses[0];
        if (first === undefined) {
          callback(new BallastError('BALLAST_ERR_CONNECT', `${prefix}: ${host} resolves to no address`), '');
        } else if (problems.length > 0) {
          const err = new BallastError('BALLAST_ERR_UPSTREAM_ADDRESS', `${prefix}: ${host} resolves to an address that is not public (${problems.join('; ')}); nothing was fetched`);
          callback(err, '');
        } else if (options.all === true) {
          callback(null, addresses);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
