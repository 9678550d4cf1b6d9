import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { HostTracker } from '../hub/host-tracker.js';
import type { ControllerMetrics } from '../metrics.js';
import type { KeyPair } from '../pki/ca.js';
import type { SourceRateLimiter } from '../auth/rate-limit.js';
import type { RunOrchestrator } from '../runs/orchestrator.js';
import type { BootstrapDeps } from '../bootstrap/deps.js';
import type { OperationEngine } from '../ops/engine.js';
import type { Store } from '../store/store.js';
import type { HubAuthPort } from '../hub/agent-hub.js';
import { registerAudit } from './audit.js';
import { registerAuth } from './auth.js';
import { errorHandler } from './errors.js';
import { installRoutes } from './install-routes.js';
import { registerJsonBodyParser } from './json-body.js';
import { type ArtifactRoutesOptions, artifactRoutes } from './routes/artifacts.js';
import { certRoutes } from './routes/certs.js';
import { clusterRoutes } from './routes/clusters.js';
import { eventRoutes } from './routes/events.js';
import { hostRoutes } from './routes/hosts.js';
import { kubeconfigRoutes } from './routes/kubeconfig.js';
import { operatorRoutes } from './routes/operators.js';
import { type NodeRoutesDeps, nodeRoutes } from './routes/nodes.js';
import { type RecoverRoutesDeps, recoverRoutes } from './routes/recover.js';
import { opsRoutes } from './routes/ops.js';
import { publicRoutes } from './routes/public.js';
import { runRoutes } from './routes/runs.js';
import { tokenRoutes } from './routes/tokens.js';
import { uiRoutes } from './ui-routes.js';
import { vipRoutes } from './routes/vip.js';
import { type EtcdRoutesDeps, etcdRoutes } from './routes/etcd.js';
import type { VipService } from '../vip/service.js';

/** Everything the HTTP API needs; built by the composition root (controller.ts) or by tests. */
export interface AppDeps {
  store: Store;
  tracker: HostTracker;
  metrics: ControllerMetrics;
  log: Logger;
  ca: KeyPair;
  caHash: string;
  /** The URL agents and operators use (goes into join commands). */
  serverUrl: () => string;
  now: () => number;
  /** TLS material; absent in tests that use `app.inject()`. */
  https?: { key: string; cert: string; ca: string };
  ready?: () => boolean;
  /** Where the agent .deb files served by /install.sh live; absent = no install routes. */
  packagesDir?: string;
  certValidityDays?: number;
  /** Per-source bound on join attempts (auth/rate-limit.ts); null or absent = unlimited. */
  joinLimiter?: SourceRateLimiter | null;
  /**
   * Checks an agent's client certificate (enrolled, not revoked) for routes that accept `host`
   * auth, the same check the agent hub applies; absent = host certificates are refused.
   */
  hostAuth?: HubAuthPort;
  /** The artifact mirror (routes/artifacts.ts); absent = no /v1/artifacts routes. */
  artifacts?: ArtifactRoutesOptions;
  /** Role runs (routes/runs.ts); absent = no /v1/runs routes. */
  runs?: RunOrchestrator;
  /** Operations (routes/ops.ts); absent = no /v1/ops routes. */
  ops?: OperationEngine;
  /** The VIP (routes/vip.ts); absent = no /v1/vip routes. */
  vip?: VipService;
  /** The bootstrap's dependencies (routes/clusters.ts); absent = no /v1/clusters routes. */
  bootstrap?: BootstrapDeps;
  /** Node replace, add and remove (routes/nodes.ts); absent = no /v1/nodes routes. */
  nodes?: Omit<NodeRoutesDeps, 'ops'>;
  /** The built web UI served at /ui (ui-routes.ts); absent = no /ui routes. */
  uiDir?: string;
  /** etcd snapshots, drills and care (routes/etcd.ts); absent = no /v1/etcd routes. */
  etcd?: EtcdRoutesDeps;
  /** cluster recover and the recovering agents' snapshot download (routes/recover.ts); absent = no such routes. */
  recovery?: Omit<RecoverRoutesDeps, 'ops'>;
}

/** Largest accepted request body: a CSR and a token fit in a few KB. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Builds the fastify app (STYLE.md §8: factory, no listen). Agents' client certificates are
 * requested but not required at the TLS layer, because operators (bearer tokens) and joining hosts
 * (join tokens) share the port; the websocket upgrade insists on a verified certificate.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const log = deps.log.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: log,
    // Per-request info logs would drown the useful ones; a debug line per request is kept below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    ...(deps.https === undefined
      ? {}
      : { https: { ...deps.https, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' as const } }),
  }) as unknown as FastifyInstance;

  app.setErrorHandler(errorHandler(log));
  registerJsonBodyParser(app, deps.metrics);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'BALLAST_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` });
  });
  app.addHook('onResponse', async (request, reply) => {
    log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });
  // Before any route plugin: each inherits the audit notes, the auth declaration check and its enforcement.
  registerAudit(app, deps);
  registerAuth(app, deps);

  const updateGauges = () => {
    const counts = deps.tracker.countByState();
    for (const [state, n] of Object.entries(counts)) deps.metrics.hostsByState.set({ state }, n);
    deps.metrics.heartbeatLag.set(deps.tracker.oldestHeartbeatAgeMs() / 1000);
    deps.metrics.hostsInConflict.set(deps.tracker.conflictCount());
    deps.metrics.restartGraceAwaiting.set(deps.tracker.awaitingReconnect());
  };
  // Every route file is a fastify plugin (its own encapsulated scope); optional groups follow their deps.
  void app.register(publicRoutes, {
    ...deps,
    certValidityDays: deps.certValidityDays ?? 365,
    joinLimiter: deps.joinLimiter ?? null,
    ready: deps.ready ?? (() => true),
    metricsContentType: deps.metrics.registry.contentType,
    metricsText: async () => {
      updateGauges();
      return deps.metrics.registry.metrics();
    },
  });
  void app.register(tokenRoutes, deps);
  if (deps.packagesDir !== undefined) {
    const https = deps.https;
    void app.register(installRoutes, {
      packagesDir: deps.packagesDir,
      serverUrl: deps.serverUrl,
      ...(https === undefined ? {} : { serverCertPem: () => https.cert }),
    });
  }
  void app.register(hostRoutes, deps);
  void app.register(eventRoutes, deps);
  void app.register(operatorRoutes, deps);
  void app.register(certRoutes, deps);
  if (deps.artifacts !== undefined) void app.register(artifactRoutes, { ...deps.artifacts, store: deps.store, log });
  if (deps.runs !== undefined) void app.register(runRoutes, { runs: deps.runs, metrics: deps.metrics });
  if (deps.ops !== undefined) void app.register(opsRoutes, { ops: deps.ops, metrics: deps.metrics });
  if (deps.ops !== undefined && deps.bootstrap !== undefined) {
    void app.register(clusterRoutes, { ops: deps.ops, bootstrap: deps.bootstrap, ...(deps.nodes === undefined ? {} : { specs: deps.nodes.specs }) });
  }
  if (deps.ops !== undefined && deps.nodes !== undefined) void app.register(nodeRoutes, { ops: deps.ops, ...deps.nodes });
  if (deps.ops !== undefined && deps.recovery !== undefined) void app.register(recoverRoutes, { ops: deps.ops, ...deps.recovery });
  // Clusters exist only where operations run; the kubeconfig reads the stored PKI, not the bootstrap.
  if (deps.ops !== undefined) void app.register(kubeconfigRoutes, { ops: deps.ops, store: deps.store, log, now: deps.now });
  if (deps.vip !== undefined) void app.register(vipRoutes, { vip: deps.vip });
  if (deps.uiDir !== undefined) void app.register(uiRoutes, { dir: deps.uiDir });
  if (deps.etcd !== undefined) void app.register(etcdRoutes, deps.etcd);
  return app;
}
