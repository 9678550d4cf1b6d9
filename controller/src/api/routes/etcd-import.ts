/**
 * Snapshot import (`ballastctl etcd snapshot import`, snapshots/import.ts): **admin only** — a
 * bundle carries the cluster's CA and service-account keys, and importing it puts them into the
 * store, which is as much as issuing a cluster-admin credential (`cluster kubeconfig` is admin-only
 * too). Audited, failures included.
 *
 * - `POST /v1/etcd/snapshots/import[?cluster=NAME]`: the sealed file as an
 *   `application/octet-stream` body, streamed to a scratch file under the importer's bound
 *   (BALLAST_ERR_TOO_LARGE on the Content-Length before reading, and on the bytes that arrive).
 * - `POST /v1/etcd/snapshots/import-s3` `{cluster, id, as?}`: the S3 target's copy.
 * - `GET /v1/etcd/snapshots/remote?cluster=NAME` (viewer): what the S3 target holds for a cluster.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BallastError } from '../../../../shared/src/errors.js';
import {
  ClusterQuerySchema,
  RemoteSnapshotListSchema,
  type SnapshotImportResult,
  SnapshotImportQuerySchema,
  SnapshotImportResultSchema,
  SnapshotImportS3RequestSchema,
} from '../../../../shared/src/etcd-api.js';
import type { SnapshotImporter, SnapshotImportOutcome } from '../../snapshots/import.js';
import { snapshotInfo } from './etcd.js';

function result(o: SnapshotImportOutcome): SnapshotImportResult {
  return { status: o.status, snapshot: snapshotInfo(o.record), pki: o.pki };
}

/** Runs an import; a coded failure's message goes to the audit log before the app's error handler answers. */
async function audited(request: FastifyRequest, work: () => Promise<SnapshotImportOutcome>): Promise<SnapshotImportResult> {
  try {
    const o = await work();
    request.audit.target = o.record.id;
    request.audit.detail = `${o.status}: cluster ${o.record.cluster}, ${o.record.size} bytes, revision ${o.record.revision}; PKI ${o.pki.imported.length} imported, ${o.pki.same.length} same, ${o.pki.kept.length} kept`;
    return result(o);
  } catch (err) {
    if (err instanceof BallastError) request.audit.detail = err.message.slice(0, 1000);
    throw err;
  }
}

/** See the file comment. Registered in a scope of its own (the raw-stream parser applies here alone). */
export async function etcdImportRoutes(scope: FastifyInstance, deps: { importer: SnapshotImporter }): Promise<void> {
  const { importer } = deps;
  scope.addContentTypeParser('application/octet-stream', { bodyLimit: importer.maxBytes }, (_req, payload, done) => done(null, payload));

  scope.post<{ Querystring: Static<typeof SnapshotImportQuerySchema> }>(
    '/v1/etcd/snapshots/import',
    { config: { auth: 'admin', action: 'etcd.snapshot.import' }, schema: { querystring: SnapshotImportQuerySchema, response: { 200: SnapshotImportResultSchema } } },
    async (request, reply) => {
      request.audit.target = 'upload';
      return audited(request, async () => {
        const body = request.body as NodeJS.ReadableStream | undefined;
        if (body === undefined || body === null || typeof body.pipe !== 'function') {
          throw new BallastError('BALLAST_ERR_VALIDATION', 'failed to import a snapshot: send the sealed .bsnap file as the body with Content-Type application/octet-stream');
        }
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        const cluster = request.query.cluster;
        try {
          return await importer.fromStream(body, { declaredBytes: Number.isFinite(declared) ? declared : null, source: 'the uploaded file', ...(cluster === undefined ? {} : { cluster }) });
        } catch (err) {
          // The rest of an over-size body is never read: the connection closes after the answer,
          // so a keep-alive client cannot send its next request behind unread bytes.
          if (err instanceof BallastError && err.code === 'BALLAST_ERR_TOO_LARGE') reply.header('connection', 'close');
          throw err;
        }
      });
    },
  );

  scope.post<{ Body: Static<typeof SnapshotImportS3RequestSchema> }>(
    '/v1/etcd/snapshots/import-s3',
    { config: { auth: 'admin', action: 'etcd.snapshot.import' }, schema: { body: SnapshotImportS3RequestSchema, response: { 200: SnapshotImportResultSchema } } },
    async (request) => {
      request.audit.target = `s3:${request.body.cluster}/${request.body.id}`;
      const { cluster, id, as } = request.body;
      return audited(request, () => importer.fromS3({ cluster, id, ...(as === undefined ? {} : { as }) }));
    },
  );

  scope.get<{ Querystring: Static<typeof ClusterQuerySchema> }>(
    '/v1/etcd/snapshots/remote',
    { config: { auth: 'viewer' }, schema: { querystring: ClusterQuerySchema, response: { 200: RemoteSnapshotListSchema } } },
    async (request) => {
      const res = await importer.remote(request.query.cluster);
      return { bucket: res.bucket, items: res.items.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() })) };
    },
  );
}
