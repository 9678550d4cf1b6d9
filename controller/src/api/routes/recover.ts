/**
 * `POST /v1/clusters/:name/recover` (`ballastctl cluster recover`) and the download of the
 * snapshot by the recovering agents, `GET /v1/agent/etcd-snapshots/:cluster/:id`.
 *
 * The download is served only to an etcd host of that cluster, only while a `cluster.recover`
 * operation of that cluster that names this snapshot holds the membership lock (a snapshot holds
 * every Secret of the cluster: no host gets it otherwise), and only after the file hashes to its
 * recorded sha256 (the agent checks again before using a byte).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ClusterNameParamsSchema } from '../../../../shared/src/clusters-api.js';
import { OperationDocumentSchema } from '../../../../shared/src/ops-api.js';
import { type ClusterRecoverRequest, ClusterRecoverRequestSchema } from '../../../../shared/src/recover-api.js';
import type { SpecSource } from '../../membership/start.js';
import type { OperationEngine } from '../../ops/engine.js';
import { verifiedSnapshot } from '../../recovery/executors.js';
import { authorizeSnapshotDownload } from '../../recovery/download.js';
import { startRecovery } from '../../recovery/start.js';
import type { RecoveryDeps } from '../../recovery/types.js';
import { actorOf } from '../request.js';

/** What the recovery routes need. */
export interface RecoverRoutesDeps {
  ops: OperationEngine;
  recovery: RecoveryDeps;
  specs: SpecSource;
}

const SnapshotParams = Type.Object({
  cluster: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
  id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }),
});

export async function recoverRoutes(app: FastifyInstance, deps: RecoverRoutesDeps): Promise<void> {
  app.post<{ Params: Static<typeof ClusterNameParamsSchema>; Body: ClusterRecoverRequest }>(
    '/v1/clusters/:name/recover',
    {
      config: { auth: 'operator', action: 'cluster.recover' },
      schema: { params: ClusterNameParamsSchema, body: ClusterRecoverRequestSchema, response: { 200: OperationDocumentSchema } },
    },
    async (request) => {
      const { name } = request.params;
      const b = request.body;
      request.audit.target = name;
      request.audit.detail = `${b.fromSnapshot !== undefined ? `snapshot ${b.fromSnapshot}` : `member ${b.fromMember ?? '?'}`}${b.replaceCurrentData ? ', replacing the current data' : ''}${b.check ? ' (check)' : ''}`;
      const doc = await startRecovery(name, b, { ops: deps.ops, deps: deps.recovery, specs: deps.specs, actor: actorOf(request) });
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.get<{ Params: Static<typeof SnapshotParams> }>(
    '/v1/agent/etcd-snapshots/:cluster/:id',
    { config: { auth: 'host' }, schema: { params: SnapshotParams } },
    async (request, reply) => {
      const { cluster, id } = request.params;
      const sha256 = authorizeSnapshotDownload({ repo: deps.recovery.repo, ops: deps.ops }, { cluster, id, host: request.agentHost?.name ?? '' });
      const opened = await verifiedSnapshot(deps.recovery, cluster, id, sha256);
      const size = (await stat(opened.dbPath)).size;
      return reply.header('content-type', 'application/octet-stream').header('content-length', String(size)).send(createReadStream(opened.dbPath));
    },
  );
}
