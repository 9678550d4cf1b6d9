/**
 * etcd snapshots, restore drills and etcd care (`ballastctl etcd …`, shared/src/etcd-api.ts):
 * viewers read; operators take, verify, delete, drill, defragment and set the schedule (audited).
 * The agents' snapshot upload (`PUT /v1/agent/etcd-snapshots/:uploadId`) accepts only an enrolled
 * host's mTLS identity, streams the body to disk under the slot's bound (its own scope, so the
 * raw-stream parser applies to it alone) and never reaches an operator.
 */
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { BallastError } from '../../../../shared/src/errors.js';
import {
  ClusterQuerySchema,
  DefragRequestSchema,
  DefragResultSchema,
  type DrillInfo,
  DrillInfoSchema,
  DrillListSchema,
  DrillRequestSchema,
  EtcdStatusSchema,
  type SnapshotInfo,
  SnapshotInfoSchema,
  SnapshotListSchema,
  SnapshotNowRequestSchema,
  SnapshotParamsSchema,
  SnapshotPolicyInfoSchema,
  SnapshotPolicyUpdateSchema,
  SnapshotQuerySchema,
} from '../../../../shared/src/etcd-api.js';
import { MAX_SNAPSHOT_BYTES } from '../../../../shared/src/protocol/etcd.js';
import type { HostDirectory } from '../../fleet/directory.js';
import { clusterStatus, defragCluster } from '../../snapshots/etcd-care.js';
import { etcdImportRoutes } from './etcd-import.js';
import type { PolicySource } from '../../snapshots/policy.js';
import type { SnapshotImporter } from '../../snapshots/import.js';
import type { SnapshotService } from '../../snapshots/service.js';
import type { UploadSlots } from '../../snapshots/uploads.js';
import type { SnapshotVault } from '../../snapshots/vault.js';
import type { DrillRecord, SnapshotRecord, SnapshotRepo } from '../../store/snapshots.js';

/** What the etcd routes need. */
export interface EtcdRoutesDeps {
  service: SnapshotService;
  vault: SnapshotVault;
  repo: SnapshotRepo;
  uploads: UploadSlots;
  hosts: Pick<HostDirectory, 'get' | 'session'>;
  policies: PolicySource;
  /** Re-reads the schedules after a policy change (the scheduler's ensureSchedules). */
  onPolicyChanged?: () => void;
  /** `etcd snapshot import` (routes/etcd-import.ts); absent = no import routes. */
  importer?: SnapshotImporter;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A record as the API shows it. */
export function snapshotInfo(r: SnapshotRecord): SnapshotInfo {
  const { file: _f, s3CopiedAt: _s, createdAt, verifiedAt, durationMs, ...rest } = r;
  return { ...rest, createdAt: new Date(createdAt).toISOString(), verifiedAt: iso(verifiedAt), durationMs: Math.round(durationMs) };
}

function drillInfo(d: DrillRecord): DrillInfo {
  return { ...d, startedAt: new Date(d.startedAt).toISOString(), durationMs: Math.round(d.durationMs) };
}

/** See the file comment. */
export async function etcdRoutes(app: FastifyInstance, deps: EtcdRoutesDeps): Promise<void> {
  const { service, vault } = deps;

  app.get<{ Querystring: Static<typeof SnapshotQuerySchema> }>(
    '/v1/etcd/snapshots',
    { config: { auth: 'viewer' }, schema: { querystring: SnapshotQuerySchema, response: { 200: SnapshotListSchema } } },
    async (request) => ({ items: deps.repo.list(request.query.cluster).map(snapshotInfo) }),
  );

  app.get<{ Params: Static<typeof SnapshotParamsSchema> }>(
    '/v1/etcd/snapshots/:id',
    { config: { auth: 'viewer' }, schema: { params: SnapshotParamsSchema, response: { 200: SnapshotInfoSchema } } },
    async (request) => snapshotInfo(vault.get(request.params.id)),
  );

  app.post<{ Body: Static<typeof SnapshotNowRequestSchema> }>(
    '/v1/etcd/snapshots',
    { config: { auth: 'operator', action: 'etcd.snapshot' }, schema: { body: SnapshotNowRequestSchema, response: { 200: SnapshotInfoSchema } } },
    async (request) => {
      request.audit.target = request.body.cluster;
      const record = await service.take(request.body.cluster, 'manual');
      request.audit.detail = `snapshot ${record.id} from ${record.host}: ${record.size} bytes, revision ${record.revision}`;
      return snapshotInfo(record);
    },
  );

  app.post<{ Params: Static<typeof SnapshotParamsSchema> }>(
    '/v1/etcd/snapshots/:id/verify',
    { config: { auth: 'operator', action: 'etcd.snapshot.verify' }, schema: { params: SnapshotParamsSchema, response: { 200: SnapshotInfoSchema } } },
    async (request) => {
      request.audit.target = request.params.id;
      return snapshotInfo((await vault.verify(request.params.id)).record);
    },
  );

  app.delete<{ Params: Static<typeof SnapshotParamsSchema> }>(
    '/v1/etcd/snapshots/:id',
    { config: { auth: 'operator', action: 'etcd.snapshot.delete' }, schema: { params: SnapshotParamsSchema, response: { 200: SnapshotInfoSchema } } },
    async (request) => {
      request.audit.target = request.params.id;
      return snapshotInfo(await service.delete(request.params.id, 'operator'));
    },
  );

  app.post<{ Body: Static<typeof DrillRequestSchema> }>(
    '/v1/etcd/drills',
    { config: { auth: 'operator', action: 'etcd.drill' }, schema: { body: DrillRequestSchema, response: { 200: DrillInfoSchema } } },
    async (request) => {
      request.audit.target = request.body.cluster;
      const drill = await service.drill(request.body.cluster, request.body.snapshot);
      request.audit.detail = `drill of ${drill.snapshotId}: ${drill.outcome}${drill.error === null ? '' : `: ${drill.error.slice(0, 500)}`}`;
      return drillInfo(drill);
    },
  );

  app.get<{ Querystring: Static<typeof ClusterQuerySchema> }>(
    '/v1/etcd/drills',
    { config: { auth: 'viewer' }, schema: { querystring: ClusterQuerySchema, response: { 200: DrillListSchema } } },
    async (request) => ({ items: deps.repo.drills(request.query.cluster).map(drillInfo) }),
  );

  app.get<{ Querystring: Static<typeof ClusterQuerySchema> }>(
    '/v1/etcd/status',
    { config: { auth: 'viewer' }, schema: { querystring: ClusterQuerySchema, response: { 200: EtcdStatusSchema } } },
    async (request) => clusterStatus(service, deps.hosts, request.query.cluster),
  );

  app.post<{ Body: Static<typeof DefragRequestSchema> }>(
    '/v1/etcd/defrag',
    { config: { auth: 'operator', action: 'etcd.defrag' }, schema: { body: DefragRequestSchema, response: { 200: DefragResultSchema } } },
    async (request) => {
      request.audit.target = request.body.cluster;
      const res = await defragCluster(service, deps.hosts, { cluster: request.body.cluster, all: request.body.all ?? false, ...(request.body.host === undefined ? {} : { host: request.body.host }) });
      request.audit.detail = res.members.length === 0 ? 'no member needed defragmenting' : res.members.map((m) => `${m.host} ${m.before}→${m.after} bytes`).join(', ');
      return res;
    },
  );

  app.get<{ Querystring: Static<typeof ClusterQuerySchema> }>(
    '/v1/etcd/schedule',
    { config: { auth: 'viewer' }, schema: { querystring: ClusterQuerySchema, response: { 200: SnapshotPolicyInfoSchema } } },
    async (request) => {
      service.etcdHosts(request.query.cluster); // 404 for an unknown cluster
      return deps.policies.info(request.query.cluster);
    },
  );

  app.put<{ Body: Static<typeof SnapshotPolicyUpdateSchema> }>(
    '/v1/etcd/schedule',
    { config: { auth: 'operator', action: 'etcd.schedule.set' }, schema: { body: SnapshotPolicyUpdateSchema, response: { 200: SnapshotPolicyInfoSchema } } },
    async (request) => {
      const { cluster, ...changes } = request.body;
      request.audit.target = cluster;
      const info = deps.policies.update(cluster, changes);
      request.audit.detail = JSON.stringify(info.policy);
      deps.onPolicyChanged?.();
      return info;
    },
  );

  const importer = deps.importer;
  if (importer !== undefined) await app.register(etcdImportRoutes, { importer });

  // The agents' upload, in a scope of its own: only here is the body a raw stream.
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', { bodyLimit: MAX_SNAPSHOT_BYTES }, (_req, payload, done) => done(null, payload));
    scope.put<{ Params: { uploadId: string } }>(
      '/v1/agent/etcd-snapshots/:uploadId',
      {
        config: { auth: 'host' },
        schema: { params: Type.Object({ uploadId: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }) }), response: { 200: Type.Object({ sha256: Type.String(), size: Type.Integer() }) } },
      },
      async (request) => {
        const host = request.agentHost;
        if (host === null) throw new BallastError('BALLAST_ERR_UNAUTHENTICATED', 'failed to accept the snapshot upload: no host certificate');
        const body = request.body as NodeJS.ReadableStream | undefined;
        if (body === undefined || body === null || typeof body.pipe !== 'function') {
          throw new BallastError('BALLAST_ERR_VALIDATION', 'failed to accept the snapshot upload: send the database with Content-Type application/octet-stream');
        }
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        const got = await deps.uploads.receive(request.params.uploadId, host.name, body, Number.isFinite(declared) ? declared : null);
        return { sha256: got.sha256, size: got.size };
      },
    );
  });
}
