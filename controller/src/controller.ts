import { BallastError } from '../../shared/src/errors.js';
import { matchesSelector } from '../../shared/src/labels.js';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { normalizeSerial } from '../../shared/src/pki.js';
import { agentFrameDecoder } from '../../shared/src/protocol/codec.js';
import { ServiceManager } from '../../shared/src/lifecycle/manager.js';
import { defineService } from '../../shared/src/lifecycle/service.js';
import { writeAdminConf } from './admin-conf.js';
import type { ControllerSettings } from './config.js';
import { buildApp } from './api/app.js';
import { SourceRateLimiter } from './auth/rate-limit.js';
import { CONNECTION_STORM_DEFAULTS, ConnectionStorm } from './hub/connection-storm.js';
import { DisconnectNotices } from './hub/disconnect-notices.js';
import { AgentHub, type HubAuthPort } from './hub/agent-hub.js';
import type { SessionStorePort } from './hub/agent-session.js';
import { createMetrics, reportAutoReplace } from './metrics.js';
import { installMonitoring } from './monitoring/monitoring.js';
import { ensurePki } from './pki/bootstrap.js';
import { loadTrustKeys } from './artifacts/trust-keys.js';
import { createBootstrapDeps } from './bootstrap/wiring.js';
import { createFleet } from './fleet/fleet.js';
import { AutoReplacer } from './membership/auto-replacer.js';
import { clusterNodesOf } from './membership/node-readiness.js';
import { TAKEN_OUT_REASON } from './membership/executors-flow.js';
import { ReturnedHostCleaner } from './membership/returned-host.js';
import { specSource } from './membership/specs.js';
import { createMembershipDeps } from './membership/wiring.js';
import { recordTransitions } from './fleet/journal.js';
import { operationCatalogue } from './ops/catalogue.js';
import { clearRestoreCache, recoverySnapshotSource } from './recovery/snapshot-adapter.js';
import { OperationEngine } from './ops/engine.js';
import { createRunOrchestrator } from './runs/wiring.js';
import { HeartbeatBatcher } from './store/heartbeat-batcher.js';
import { BOOTSTRAP_ADMIN } from './store/operators.js';
import { type Store, openStore } from './store/store.js';
import { VipService } from './vip/service.js';
import { createSnapshotParts } from './snapshots/wiring.js';

/** Controller settings after flag parsing and validation (config.ts), plus the process logger. */
export type ControllerOptions = Omit<ControllerSettings, 'logLevel'> & {
  log: Logger;
  /** The built web UI; default {@link BUILT_UI_DIR}. */
  uiDir?: string;
};

/**
 * Where `npm run build` puts the web UI (controller/ui/vite.config.ts): `dist/controller/ui`, beside
 * the compiled controller, so the package (scripts/package.sh copies dist/controller) ships it.
 * From the TypeScript sources (tests running in-process) the same built directory is used.
 */
export const BUILT_UI_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/controller/ui' : '../ui', import.meta.url));

/** A controller built on its data dir, not started yet: its long-running parts as one service. */
export interface Controller {
  /** Every long-running part, in start order; stopped in reverse. */
  readonly services: ServiceManager;
  readonly caHash: string;
  readonly adminConfPath: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  /** The advertised URL, known once the HTTP service started (port 0 in tests). */
  url(): string;
  /** The port listened on, known once the HTTP service started. */
  port(): number;
}

/** Newest events kept; older ones are pruned every 10 minutes. */
const EVENTS_KEPT = 100_000;

/** How long a `disconnected` event waits for the host to reconnect (agents retry from 0.5 s). */
const DISCONNECT_GRACE_MS = 3000;

/**
 * Composition root: converges the data dir (PKI, store), wires tracker, hub and API, and lists the
 * long-running parts as services; starting them listens and writes admin.conf.
 */
export async function createController(opts: ControllerOptions): Promise<Controller> {
  const log = opts.log;
  const now = Date.now;
  // First: a bad key file is a configuration error, reported before anything is created.
  const trustKeys = await loadTrustKeys(opts.artifactTrustKeys);
  if (trustKeys.length > 0) log.info({ keys: trustKeys.map((k) => ({ id: k.id, file: k.source })) }, 'artifact signing keys trusted');
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const sanAddresses = [...opts.advertise];
  if (!isWildcard(opts.listenHost)) sanAddresses.push(opts.listenHost);
  const pki = await ensurePki({
    dataDir: opts.dataDir,
    sans: {
      dnsNames: [hostname(), ...sanAddresses.filter((a) => isIP(a) === 0)],
      ipAddresses: sanAddresses.filter((a) => isIP(a) !== 0),
    },
    log,
  });
  const store = openStore({
    path: join(opts.dataDir, 'ballast.db'),
    onListenerError: (err) => log.error({ err }, 'event listener failed'),
  });
  const metrics = createMetrics();
  // Host events are told after their commit; subscribers (metrics and event log here, the VIP service) never run inside a store write.
  const { tracker, directory, reports, memo } = createFleet({
    store,
    log,
    unreachableAfterMs: opts.unreachableAfterMs,
    onListenerError: (err, event) => log.error({ err, event: event.type, host: event.host.name }, 'host event subscriber failed'),
  });
  recordTransitions(directory, { metrics, journal: store.events });
  const stored = store.hosts.list();
  tracker.load(stored, opts.restartGraceMs);
  memo.seed(stored, now());
  // Marks runs a previous process left in flight as interrupted before any agent can report on them.
  const runs = createRunOrchestrator({ store, hosts: directory, artifacts: store.artifacts, log });
  // Operations resume below, once listening: their executors may need connected agents.
  // `vip` is built below; the getter is only called by a reset, long after start-up.
  const bootstrap = createBootstrapDeps({ store, hosts: directory, runs, log, vip: () => vip });
  const membership = createMembershipDeps({ store, directory, tracker, bootstrap, dataDir: opts.dataDir, now, heartbeatIntervalMs: opts.heartbeatIntervalMs });
  // Recovery reads verified snapshots from the snapshot store built below (createSnapshotParts).
  let snapshotStore: Awaited<ReturnType<typeof createSnapshotParts>>['source'] | undefined;
  await clearRestoreCache(opts.dataDir);
  const restoreSource = recoverySnapshotSource(opts.dataDir, () => {
    if (snapshotStore === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', 'the snapshot store is not ready yet');
    return snapshotStore;
  });
  const recovery = { bootstrap, repo: store.membership, snapshots: restoreSource, kubeNodes: membership.kubeNodes };
  const ops = new OperationEngine({ repo: store.operations, events: store.events, log, registry: operationCatalogue({ bootstrap, membership, recovery }) });
  const specs = specSource(ops, store.membership);
  // Off unless a cluster's spec has `autoReplace`; a host counts as down from when the tracker marked
  // it unreachable or its Node went NotReady, whichever came first.
  const autoReplacer = new AutoReplacer({
    specs,
    membership,
    ops,
    labelled: (selector) => store.hosts.list().filter((h) => matchesSelector(h.labels, selector)).map((h) => h.name),
    downSince: (name) => {
      const h = directory.get(name);
      return h !== null && h.state === 'unreachable' ? h.stateSince : null;
    },
    nodesOf: clusterNodesOf(membership),
    events: store.events,
    count: (outcome) => metrics.replacements.inc({ outcome }),
    report: (states) => reportAutoReplace(metrics, states),
    log: log.child({ component: 'auto-replace' }),
  });

  // A taken-out host that comes back may have registered its Node again before standing down: deleted on each refusal.
  const returned = new ReturnedHostCleaner({
    specs,
    membership,
    clusterOf: (id) => store.operations.get(id)?.cluster ?? null,
    events: store.events,
    log: log.child({ component: 'returned-host' }),
  });

  // Observes and orchestrates the VIP; never in its failover path (vip/service.ts).
  const vip = new VipService({ hosts: directory, events: store.events, metrics, log });
  vip.seed(store.hosts.list());
  // The alerting metrics (controller/prometheus/ballast-rules.yaml): read at scrape time, plus agent component events.
  const monitoring = installMonitoring({
    registry: metrics.registry,
    db: store.db,
    events: store.events,
    hosts: () => tracker.all(),
    ownCertificates: [
      { name: 'controller-ca', kind: 'ca', pem: pki.ca.certPem },
      { name: 'controller-server', kind: 'cert', pem: pki.server.certPem },
    ],
    now,
    onError: (err, metric) => log.error({ err, metric, component: 'monitoring' }, 'failed to collect a metric; it is left out of this scrape'),
  });

  const batcher = new HeartbeatBatcher({
    db: store.db,
    onError: (err, source) => log.error({ err, source, component: 'heartbeats' }, 'heartbeat batch failed'),
    onFlushed: (stats) => metrics.heartbeatBatchRows.observe(stats.rows),
  });
  const orphans = batcher.dropOrphans();
  if (orphans > 0) log.info({ orphans }, 'dropped last-seen rows of deleted hosts');
  // A reconnect storm (a restart under thousands of agents) logs a bounded number of rows.
  const storm = new ConnectionStorm({ ...CONNECTION_STORM_DEFAULTS, now, sink: (e) => store.events.append(e) });
  const sessionStore: SessionStorePort = {
    recordHeartbeat: (hostId, seq, receivedAt, onStored) => batcher.record(hostId, seq, receivedAt, onStored),
    ...reports,
    event: (e) => storm.event(e),
  };
  const auth: HubAuthPort = {
    identify({ commonName, serial }) {
      const normalized = normalizeSerial(serial);
      const revoked = store.hosts.revocationReason(normalized);
      if (revoked?.startsWith(TAKEN_OUT_REASON) === true) {
        // Its agent stands down on this code: a replaced host that comes back keeps kubelet, etcd and the VIP down.
        void returned.refused(commonName, revoked);
        return { ok: false, status: 403, error: { code: 'BALLAST_ERR_HOST_TAKEN_OUT', message: `host "${commonName}" was ${revoked}: keep kubelet, etcd and the VIP down` } };
      }
      if (revoked !== null) {
        return { ok: false, status: 403, error: { code: 'BALLAST_ERR_CERT_REVOKED', message: `certificate ${normalized} of host "${commonName}" was revoked (host removed); join again with a new token` } };
      }
      const host = store.hosts.getByName(commonName);
      if (host === null || host.certSerial !== normalized) {
        return { ok: false, status: 403, error: { code: 'BALLAST_ERR_CERT_REVOKED', message: `certificate ${normalized} for "${commonName}" is not the current certificate of an enrolled host` } };
      }
      return { ok: true, host: { id: host.id, name: host.name } };
    },
  };
  // A drop and a reconnect within the grace is one `connected` event (a healed partition).
  const disconnects = new DisconnectNotices({ graceMs: DISCONNECT_GRACE_MS, now, sink: (e) => sessionStore.event(e) });
  const hub = new AgentHub({
    log: log.child({ component: 'hub' }),
    auth,
    ctx: {
      store: sessionStore,
      tracker,
      metrics,
      decoder: agentFrameDecoder(),
      log,
      now,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      healthIntervalMs: opts.healthIntervalMs,
      helloTimeoutMs: 10_000,
      maxRejectedPer10s: 200,
      runs,
      disconnects,
    },
  });

  // etcd snapshots, drills and care (issue 13): the scheduler is a service below.
  const snapshots = await createSnapshotParts({
    store,
    hosts: directory,
    specs,
    registry: metrics.registry,
    log,
    dataDir: opts.dataDir,
    ...(opts.snapshotKeyPath === undefined ? {} : { keyPath: opts.snapshotKeyPath }),
    ...(opts.snapshotS3Path === undefined ? {} : { s3Path: opts.snapshotS3Path }),
    binDirs: opts.drillBinDirs ?? [],
  });
  snapshotStore = snapshots.source;

  const advertised = opts.advertise[0] ?? (isWildcard(opts.listenHost) ? '127.0.0.1' : opts.listenHost);
  let ready = false;
  let url = '';
  const app = buildApp({
    store,
    tracker,
    metrics,
    log,
    ca: pki.ca,
    caHash: pki.caHash,
    serverUrl: () => url, // known once listening (port 0 in tests)
    now,
    https: { key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem },
    ready: () => ready,
    packagesDir: opts.packagesDir,
    certValidityDays: opts.certValidityDays,
    joinLimiter: joinLimiter(opts.joinRatePerSecond, now),
    artifacts: { mirrorDir: join(opts.dataDir, 'artifacts'), upstream: { hosts: opts.artifactUpstreams }, trustKeys },
    hostAuth: auth,
    runs,
    ops,
    bootstrap,
    nodes: { membership, specs },
    recovery: { recovery, specs },
    vip,
    uiDir: opts.uiDir ?? BUILT_UI_DIR,
    etcd: snapshots.routes,
  });
  app.server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  let port = opts.listenPort;
  const adminConfPath = join(opts.dataDir, 'admin.conf');
  let pruneTimer: NodeJS.Timeout | null = null;

  // Start order; stopped in reverse, so each part stops before the ones listed above it.
  const services = new ServiceManager(
    [
      // Opened above (every part is built on it); closed last.
      defineService('store', { stop: () => store.close() }),
      // Stops right before the store, after the notices below: their last rows may be summarised.
      defineService('connection-storm', { stop: () => storm.flush() }),
      // Stops right before the store: the `disconnected` events still held back are written.
      defineService('disconnect-notices', { stop: () => disconnects.flush() }),
      defineService('heartbeat-batcher', { start: () => batcher.start(opts.heartbeatFlushMs), stop: () => batcher.stop() }),
      defineService('http', {
        async start() {
          await app.listen({ host: opts.listenHost, port: opts.listenPort });
          const address = app.server.address();
          port = typeof address === 'object' && address !== null ? address.port : opts.listenPort;
          url = `https://${isIP(advertised) === 6 ? `[${advertised}]` : advertised}:${port}`;
          log.info({ url, ui: `${url}/ui`, listen: `${opts.listenHost}:${port}`, caHash: pki.caHash, dataDir: opts.dataDir }, 'controller listening');
        },
        stop: () => app.close(),
      }),
      // Needs the URL, known once listening.
      defineService('admin-conf', { start: () => ensureAdminConf({ store, path: adminConfPath, url, caCert: pki.ca.certPem, log }) }),
      // Agent sessions end before the server closes, with 1001 (going away): agents reconnect.
      defineService('hub', { stop: () => hub.closeAll(1001, 'controller shutting down') }),
      // Before the sessions close: a step cut off by shutdown stays `running` (executed again at the next start), not failed.
      defineService('operations', { stop: () => ops.close() }),
      // In-flight runs end as interrupted, not failed, when the sessions close.
      defineService('runs', { stop: () => runs.close() }),
      defineService('vip', { start: () => vip.start(), stop: () => vip.close() }),
      defineService('monitoring', { stop: () => monitoring.close() }),
      defineService('host-tracker', { start: () => tracker.start(250), stop: () => tracker.stop() }),
      // Scheduled snapshots and drills need connected agents and the store; stops before both.
      defineService('snapshot-scheduler', {
        start: () => snapshots.scheduler.start(),
        stop: async () => {
          await snapshots.scheduler.stop();
          snapshots.close();
        },
      }),
      defineService('auto-replace', { start: () => autoReplacer.start(5000), stop: () => autoReplacer.stop() }),
      defineService('housekeeping', {
        start() {
          pruneTimer = setInterval(() => {
            store.healthSamples.prune();
            store.events.prune(EVENTS_KEPT);
            store.audit.prune();
          }, 10 * 60_000);
          pruneTimer.unref();
        },
        stop() {
          if (pruneTimer !== null) clearInterval(pruneTimer);
        },
      }),
      // /readyz says ready from here on, and not ready from the first moment of a shutdown.
      defineService('readiness', {
        start() {
          ready = true;
        },
        stop() {
          ready = false;
        },
      }),
      // Last: resumed operations' executors may need every part above, and connected agents.
      defineService('operations-resume', {
        start() {
          ops.recover();
        },
      }),
    ],
    { name: 'controller', log },
  );

  return {
    services,
    caHash: pki.caHash,
    adminConfPath,
    app,
    store,
    url: () => url,
    port: () => port,
  };
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * First start: the bootstrap admin's token goes into admin.conf. If admin.conf was lost, the old
 * token cannot be recovered (only its hash is stored), so a fresh admin account is created.
 */
async function ensureAdminConf(opts: { store: Store; path: string; url: string; caCert: string; log: Logger }): Promise<void> {
  const token = opts.store.operators.ensureAdmin();
  if (token !== null) {
    await writeAdminConf(opts.path, { server: opts.url, caCert: opts.caCert, token, user: BOOTSTRAP_ADMIN });
    opts.log.info({ path: opts.path }, 'wrote admin.conf for the bootstrap admin');
    return;
  }
  if (existsSync(opts.path)) return;
  const name = `admin-${Date.now().toString(36)}`;
  const created = opts.store.operators.create({ name, role: 'admin' });
  await writeAdminConf(opts.path, { server: opts.url, caCert: opts.caCert, token: created.token, user: name });
  opts.log.warn({ path: opts.path, user: name }, 'admin.conf was missing: created a new admin account for it');
}

/** The per-source join limiter (threat model: an unauthenticated peer); null when switched off. */
function joinLimiter(perSecond: number | undefined, now: () => number): SourceRateLimiter | null {
  if (perSecond === undefined || perSecond === 0) return null;
  return new SourceRateLimiter({ perSecond, burst: Math.max(1, Math.ceil(perSecond * 5)), now });
}
