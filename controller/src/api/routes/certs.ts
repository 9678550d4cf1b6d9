import type { FastifyInstance } from 'fastify';
import { type CertInfo, CertListResponseSchema, type CertsQuery, CertsQuerySchema } from '../../../../shared/src/certs-api.js';
import type { ClusterPkiRecord } from '../../store/cluster-pki.js';
import type { Store } from '../../store/store.js';

const DAY_MS = 86_400_000;

/** A stored PKI item as the API shows it: metadata only, never the key or the token secret. */
export function certInfo(record: ClusterPkiRecord, now: number): CertInfo {
  return {
    cluster: record.cluster,
    name: record.name,
    kind: record.kind,
    subject: record.subject,
    sans: record.sans,
    notAfter: record.notAfter === null ? null : new Date(record.notAfter).toISOString(),
    daysLeft: record.notAfter === null ? null : Math.floor((record.notAfter - now) / DAY_MS),
  };
}

/**
 * The cluster PKI inventory (`ballastctl certs`). Read-only and keyless, so viewers may see it:
 * knowing what expires when is what an on-call viewer needs.
 */
export async function certRoutes(app: FastifyInstance, deps: { store: Store; now: () => number }): Promise<void> {
  app.get<{ Querystring: CertsQuery }>(
    '/v1/certs',
    { config: { auth: 'viewer' }, schema: { querystring: CertsQuerySchema, response: { 200: CertListResponseSchema } } },
    async (request) => {
      const now = deps.now();
      return { items: deps.store.clusterPki.list(request.query.cluster).map((r) => certInfo(r, now)) };
    },
  );
}
