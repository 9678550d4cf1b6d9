import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  type ClusterCreateRequest,
  ClusterCreateRequestSchema,
  type ClusterResetRequest,
  ClusterResetRequestSchema,
  ClusterListSchema,
  ClusterNameParamsSchema,
  ClusterStatusSchema,
  MAX_CLUSTER_REQUEST_BYTES,
} from '../../../../shared/src/clusters-api.js';
import { BallastError } from '../../../../shared/src/errors.js';
import { OperationDocumentSchema } from '../../../../shared/src/ops-api.js';
import type { BootstrapDeps } from '../../bootstrap/deps.js';
import { CLUSTER_CREATE } from '../../bootstrap/kind.js';
import { CLUSTER_RESET } from '../../bootstrap/reset.js';
import { specOf } from '../../bootstrap/cluster-facts.js';
import { clusterStatus, listClusters, newestCreates } from '../../bootstrap/status.js';
import { type ClusterProblem, checkClusterDocument } from '../../cluster/spec.js';
import type { SpecSource } from '../../membership/start.js';
import type { OperationEngine } from '../../ops/engine.js';
import { actorOf } from '../request.js';

/** Every problem in one coded error: `n problems: /path: message; …`, the first path as `path`. */
function refuse(what: string, problems: readonly ClusterProblem[]): never {
  const n = problems.length;
  throw new BallastError('BALLAST_ERR_VALIDATION', `${what}: ${n} problem${n === 1 ? '' : 's'}; nothing was started: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
    path: problems[0]?.path ?? '/',
  });
}

/**
 * `cluster create` (a `cluster.create` operation), `cluster list` and `cluster status`. Creation
 * validates everything before anything starts: the schema, the inline CNI manifest, then the live
 * fleet and mirror (enrolment, health, facts, artifacts); the operation re-checks the fleet as its
 * first step, because a resumed operation may run much later.
 */
export async function clusterRoutes(app: FastifyInstance, deps: { ops: OperationEngine; bootstrap: BootstrapDeps; specs?: SpecSource }): Promise<void> {
  app.post<{ Body: ClusterCreateRequest }>(
    '/v1/clusters',
    {
      bodyLimit: MAX_CLUSTER_REQUEST_BYTES,
      config: { auth: 'operator', action: 'cluster.create' },
      schema: { body: ClusterCreateRequestSchema, response: { 200: OperationDocumentSchema } },
    },
    async (request) => {
      const checked = checkClusterDocument(request.body.spec);
      if (!checked.ok) refuse('cluster spec', checked.problems.map((p) => ({ path: `/spec${p.path === '/' ? '' : p.path}`, message: p.message })));
      const spec = checked.spec;
      request.audit.target = spec.name;
      request.audit.detail = `${spec.hosts.length} hosts${request.body.check ? ' (check)' : ''}`;
      if (typeof spec.network.cniManifest === 'string') {
        refuse(`cluster ${spec.name}`, [{ path: '/spec/network/cniManifest', message: 'must be sent inline ({inline: …}); ballastctl reads the file for you' }]);
      }
      const validation = deps.bootstrap.validate(spec);
      if (validation.problems.length > 0) refuse(`cluster ${spec.name}`, validation.problems);
      const doc = await deps.ops.start(CLUSTER_CREATE, { spec, ...(request.body.diff ? { diff: true } : {}) }, { actor: actorOf(request), cluster: spec.name, check: request.body.check });
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.post<{ Params: Static<typeof ClusterNameParamsSchema>; Body: ClusterResetRequest }>(
    '/v1/clusters/:name/reset',
    {
      config: { auth: 'operator', action: 'cluster.reset' },
      schema: { params: ClusterNameParamsSchema, body: ClusterResetRequestSchema, response: { 200: OperationDocumentSchema } },
    },
    async (request) => {
      const { name } = request.params;
      const create = newestCreates(deps.ops).get(name);
      if (create === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `cluster "${name}" does not exist (no cluster create has run for it)`);
      // After a node replace, add or remove, the cluster's hosts are the ones it recorded.
      const spec = deps.specs?.current(name) ?? specOf(create);
      const hosts = request.body.hosts ?? spec.hosts.map((h) => h.name);
      request.audit.target = name;
      request.audit.detail = `${hosts.join(',')}${request.body.check ? ' (check)' : ''}`;
      const input = { spec, hosts, ...(request.body.diff ? { diff: true } : {}) };
      const doc = await deps.ops.start(CLUSTER_RESET, input, { actor: actorOf(request), cluster: name, check: request.body.check });
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.get('/v1/clusters', { config: { auth: 'viewer' }, schema: { response: { 200: ClusterListSchema } } }, async () => listClusters(deps.ops, deps.bootstrap.clusters));

  app.get<{ Params: Static<typeof ClusterNameParamsSchema> }>(
    '/v1/clusters/:name/status',
    { config: { auth: 'viewer' }, schema: { params: ClusterNameParamsSchema, response: { 200: ClusterStatusSchema } } },
    async (request) => clusterStatus(request.params.name, deps.ops, deps.bootstrap, deps.specs?.current(request.params.name) ?? undefined),
  );
}
