/**
 * Test fixtures of the HTTP API (STYLE.md §12), shared by the route tests: {@link buildApp} with
 * the dependencies every test fills in the same way. No test-framework imports.
 */
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../../shared/src/log.js';
import { caPublicKeyHash } from '../../../shared/src/pki.js';
import { HostTracker } from '../hub/host-tracker.js';
import { createMetrics } from '../metrics.js';
import { createCa } from '../pki/ca.js';
import { type AppDeps, buildApp } from './app.js';

/** The server URL of {@link testApp} unless the test names one (it goes into join commands). */
export const TEST_SERVER_URL = 'https://198.18.0.2:9443';

/**
 * {@link buildApp} over `deps.store` for `app.inject()` (or a plain-HTTP `listen()`): a fresh CA
 * (`CN=test-ca`) and its hash, silent logs, a tracker whose transitions go nowhere, metrics without
 * process collectors, {@link TEST_SERVER_URL} and the wall clock. Anything in `deps` (the optional
 * route groups, a tracker or metrics of the test's own, …) is used instead.
 */
export async function testApp(deps: Pick<AppDeps, 'store'> & Partial<AppDeps>): Promise<FastifyInstance> {
  const ca = deps.ca ?? (await createCa({ commonName: 'test-ca' }));
  return buildApp({
    ...deps,
    tracker: deps.tracker ?? new HostTracker({ log: silentLogger(), sink: { transition: () => {} } }),
    metrics: deps.metrics ?? createMetrics({ collectProcess: false }),
    log: deps.log ?? silentLogger(),
    ca,
    caHash: deps.caHash ?? caPublicKeyHash(ca.certPem),
    serverUrl: deps.serverUrl ?? (() => TEST_SERVER_URL),
    now: deps.now ?? Date.now,
  });
}
