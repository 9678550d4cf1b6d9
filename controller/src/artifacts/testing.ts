/**
 * Test support for `artifacts fetch`: a real https upstream on loopback and the policy that lets a
 * download reach it. The production address rule refuses loopback, so tests go through
 * {@link UpstreamPolicy.testing} — a seam only code can set — and name the server `upstream.test`,
 * a host the policy resolves to exactly the server's address.
 */
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueServerCert } from '../pki/ca.js';
import { addressProblem } from './address-policy.js';
import type { UpstreamPolicy } from './upstream.js';

/** The host name tests use for an upstream on loopback. */
export const TEST_UPSTREAM_HOST = 'upstream.test';

/** A running https test upstream. */
export interface TestUpstream {
  /** `https://upstream.test:<port>` (reach it through {@link TestUpstream.policy}). */
  base: string;
  port: number;
  /** The address it listens on, e.g. 127.0.0.1. */
  address: string;
  /** TCP connections accepted so far: a refused download must leave this at 0. */
  connections: number;
  /** The CA that signed its certificate (PEM). */
  ca: string;
  /**
   * Lets downloads reach this server and nothing else on loopback: `upstream.test` (plus `extra`
   * hosts) resolve as given, this server's address passes, every other address meets the real rule.
   */
  policy(extra?: { hosts?: string[]; resolve?: Record<string, LookupAddress[]> }): UpstreamPolicy;
  close(): Promise<void>;
}

let tls: Promise<{ ca: string; key: string; cert: string }> | undefined;

/** One CA and certificate per test process (key generation is the slow part). */
function testTls(): Promise<{ ca: string; key: string; cert: string }> {
  tls ??= (async () => {
    const ca = await createCa({ commonName: 'ballast test upstream CA' });
    const leaf = await issueServerCert({
      ca,
      commonName: TEST_UPSTREAM_HOST,
      dnsNames: [TEST_UPSTREAM_HOST, 'localhost', 'internal.test'],
      ipAddresses: ['127.0.0.1', '127.0.0.2', '::1'],
    });
    return { ca: ca.certPem, key: leaf.keyPem, cert: leaf.certPem };
  })();
  return tls;
}

/** Starts an https server on `listen` (default 127.0.0.1), port 0. */
export async function startTestUpstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  listen = '127.0.0.1',
): Promise<TestUpstream> {
  const { ca, key, cert } = await testTls();
  const server: Server = createServer({ key, cert }, handler);
  const upstream: TestUpstream = {
    base: '',
    port: 0,
    address: listen,
    connections: 0,
    ca,
    policy(extra = {}) {
      const table: Record<string, LookupAddress[]> = {
        [TEST_UPSTREAM_HOST]: [{ address: listen, family: listen.includes(':') ? 6 : 4 }],
        ...extra.resolve,
      };
      return {
        hosts: [TEST_UPSTREAM_HOST, ...(extra.hosts ?? [])],
        testing: {
          // Only `localhost` goes to the real resolver (/etc/hosts): tests never send a DNS query off the machine.
          resolve: async (host) => {
            const known = table[host];
            if (known !== undefined) return known;
            if (host === 'localhost') return lookup(host, { all: true });
            throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
          },
          addressProblem: (address) => (address === listen ? null : addressProblem(address)),
          ca,
        },
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => {
    upstream.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, listen, resolve));
  upstream.port = (server.address() as AddressInfo).port;
  upstream.base = `https://${TEST_UPSTREAM_HOST}:${upstream.port}`;
  return upstream;
}
