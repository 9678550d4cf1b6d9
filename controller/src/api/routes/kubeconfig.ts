import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ClusterNameParamsSchema } from '../../../../shared/src/clusters-api.js';
import { BallastError } from '../../../../shared/src/errors.js';
import { formatDuration } from '../../../../shared/src/duration.js';
import { checkApiServerUrl, type KubeconfigRequest, KubeconfigRequestSchema, KubeconfigResponseSchema } from '../../../../shared/src/kubeconfig-api.js';
import { specOf } from '../../bootstrap/cluster-facts.js';
import { newestCreates } from '../../bootstrap/status.js';
import { issueKubeconfig, KUBECONFIG_ADMIN_GROUP } from '../../kube/kubeconfig.js';
import type { OperationEngine } from '../../ops/engine.js';
import { PKI_NAMES } from '../../pki/cluster-pki-items.js';
import { urlHost } from '../../roles/etcd.js';
import type { Store } from '../../store/store.js';
import { actorOf } from '../request.js';

/** What {@link kubeconfigRoutes} needs. */
export interface KubeconfigRouteDeps {
  /** Where clusters are: the newest `cluster.create` of each (its spec is the cluster's). */
  ops: Pick<OperationEngine, 'list' | 'find'>;
  /** The stored cluster PKI: only the Kubernetes CA is read. */
  store: Pick<Store, 'clusterPki'>;
  log: Logger;
  now: () => number;
}

/**
 * `POST /v1/clusters/:name/kubeconfig` (shared/src/kubeconfig-api.ts). Admin only: the answer is a
 * cluster-admin credential, more than an operator role lets one do through Ballast. Audited with
 * the account (the audit row's actor), the cluster, the ttl and the certificate's serial — the
 * serial is what ties a certificate seen in the API server's audit log back to who asked for it.
 * The key is never logged, audited or stored, and the answer is `Cache-Control: no-store` (set
 * before anything can fail, so refusals carry it too).
 */
export async function kubeconfigRoutes(app: FastifyInstance, deps: KubeconfigRouteDeps): Promise<void> {
  const log = deps.log.child({ component: 'kubeconfig' });
  app.post<{ Params: Static<typeof ClusterNameParamsSchema>; Body: KubeconfigRequest }>(
    '/v1/clusters/:name/kubeconfig',
    {
      config: { auth: 'admin', action: 'cluster.kubeconfig' },
      schema: { params: ClusterNameParamsSchema, body: KubeconfigRequestSchema, response: { 200: KubeconfigResponseSchema } },
      onRequest: async (_request, reply) => {
        void reply.header('cache-control', 'no-store');
      },
    },
    async (request) => {
      const { name } = request.params;
      const ttl = formatDuration(request.body.ttlSeconds * 1000);
      request.audit.target = name;
      request.audit.detail = `ttl ${ttl} (${request.body.ttlSeconds}s)`;
      const create = newestCreates(deps.ops).get(name);
      if (create === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to issue kubeconfig: cluster "${name}" does not exist (no cluster create has run for it; see ballastctl cluster list)`);
      const spec = specOf(create);
      const ca = deps.store.clusterPki.get(name, PKI_NAMES.kubernetesCa);
      if (ca === null || ca.kind !== 'ca' || ca.certPem === null) {
        throw new BallastError(
          'BALLAST_ERR_CLUSTER_PKI_MISSING',
          `failed to issue kubeconfig: cluster "${name}" has no Kubernetes CA yet (its cluster create ${create.id} has not issued the PKI; see ballastctl op ${create.id})`,
        );
      }
      const server = request.body.server === undefined ? `https://${urlHost(spec.vip.address)}:${spec.vip.port}` : checkApiServerUrl(request.body.server);
      const result = await issueKubeconfig({
        cluster: name,
        kubernetesCa: { certPem: ca.certPem, keyPem: ca.keyPem },
        kubernetesVersion: spec.versions.kubernetes,
        account: actorOf(request),
        ttlMs: request.body.ttlSeconds * 1000,
        server,
        now: deps.now(),
      });
      request.audit.detail = `ttl ${ttl} (${request.body.ttlSeconds}s), serial ${result.serial}, ${result.user} in ${KUBECONFIG_ADMIN_GROUP}, until ${result.notAfter}, server ${server}`;
      log.info({ cluster: name, account: actorOf(request), serial: result.serial, notAfter: result.notAfter }, 'issued a cluster-admin kubeconfig');
      return result;
    },
  );
}
