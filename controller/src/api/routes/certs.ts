import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  type CertInfo,
  CertListResponseSchema,
  type CertsQuery,
  CertsQuerySchema,
  type IssuedCert,
  IssuedCertListResponseSchema,
} from '../../../../shared/src/certs-api.js';
import { normalizeSerial } from '../../../../shared/src/pki.js';
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
 * knowing what expires when is what an on-call viewer needs. `/v1/certs/issued` adds what the
 * controller issued itself (agent client certificates) and serves with (its CA and server cert).
 */
export async function certRoutes(
  app: FastifyInstance,
  deps: { store: Store; now: () => number; ca: { certPem: string }; https?: { cert: string } },
): Promise<void> {
  app.get<{ Querystring: CertsQuery }>(
    '/v1/certs',
    { config: { auth: 'viewer' }, schema: { querystring: CertsQuerySchema, response: { 200: CertListResponseSchema } } },
    async (request) => {
      const now = deps.now();
      return { items: deps.store.clusterPki.list(request.query.cluster).map((r) => certInfo(r, now)) };
    },
  );

  // The controller's own: its CA and serving certificate do not change while it runs; parsed once.
  const own: Array<Omit<IssuedCert, 'daysLeft'>> = [
    { owner: 'controller', name: 'controller-ca', kind: 'ca', ...pemFacts(deps.ca.certPem) },
    ...(deps.https === undefined ? [] : [{ owner: 'controller' as const, name: 'controller-server', kind: 'cert' as const, ...pemFacts(deps.https.cert) }]),
  ];
  app.get('/v1/certs/issued', { config: { auth: 'viewer' }, schema: { response: { 200: IssuedCertListResponseSchema } } }, async () => {
    const now = deps.now();
    const days = (notAfter: string) => Math.floor((Date.parse(notAfter) - now) / DAY_MS);
    const hosts = deps.store.hosts.list().map((h): IssuedCert => {
      const notAfter = new Date(h.certNotAfter).toISOString();
      return { owner: 'host', name: h.name, kind: 'cert', serial: h.certSerial, notAfter, daysLeft: days(notAfter) };
    });
    return { items: [...own.map((c) => ({ ...c, daysLeft: days(c.notAfter) })), ...hosts] };
  });
}

/** Serial and expiry of a PEM certificate. */
function pemFacts(pem: string): { serial: string; notAfter: string } {
  const cert = new X509Certificate(pem);
  return { serial: normalizeSerial(cert.serialNumber), notAfter: new Date(cert.validTo).toISOString() };
}
