/**
 * Where `artifacts bundle` may connect. It runs on the operator's own workstation with the
 * operator's own catalogue, so — unlike the controller's `artifacts fetch`, which must not become a
 * proxy into its LAN — any host is allowed; what stays is https with certificate checks. Plain http
 * is allowed only to registries named with `--insecure-registry`, and only when they are on
 * loopback (a registry run for a test or a local mirror on this machine): anything that crosses a
 * network is authenticated by TLS.
 *
 * Trust: node's built-in CA store, plus NODE_EXTRA_CA_CERTS (node reads it at start-up), plus the
 * PEM file of `--ca-file` (e.g. a corporate proxy's or a test's CA), added here to the built-in store.
 */
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { parseFetchUrl, urlRefused } from '../../../shared/src/fetch-url.js';
import type { HttpGetPolicy } from '../../../shared/src/http-get.js';

/** Options of {@link bundleFetchPolicy}. */
export interface BundleFetchOptions {
  /** host:port of loopback registries that may be spoken to over http. */
  insecureRegistries: ReadonlySet<string>;
  /** Extra CA certificates (PEM) to trust besides the built-in store. */
  extraCa?: string;
  userAgent: string;
}

/** The host:port forms `--insecure-registry` accepts: a loopback literal or `localhost`, with a port. */
export function checkInsecureRegistry(value: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(value);
  if (m === null) return `"${value}" is not HOST:PORT`;
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopback(host)) return `"${value}" is not a loopback address (127.0.0.0/8, ::1 or localhost); plain http is refused for anything that leaves this machine`;
  return null;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/** The policy for shared/src/http-get.ts. */
export function bundleFetchPolicy(opts: BundleFetchOptions): HttpGetPolicy {
  return {
    userAgent: opts.userAgent,
    ...(opts.extraCa === undefined ? {} : { ca: [...rootCertificates, opts.extraCa] }),
    checkUrl(url, prefix) {
      const parsed = parseFetchUrl(url, prefix);
      if (parsed.protocol === 'https:') return parsed;
      if (parsed.protocol === 'http:' && opts.insecureRegistries.has(parsed.host) && isLoopback(parsed.hostname.replace(/^\[(.*)\]$/, '$1'))) return parsed;
      throw urlRefused(prefix, `only https is allowed, not ${parsed.protocol.replace(/:$/, '')} (plain http only to a loopback registry named with --insecure-registry)`);
    },
  };
}
