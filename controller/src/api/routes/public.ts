import type { FastifyInstance } from 'fastify';
import {
  CaResponseSchema,
  ErrorResponseSchema,
  JoinRequestSchema,
  type JoinRequest,
  JoinResponseSchema,
} from '../../../../shared/src/api.js';
import { type EnrolmentDeps, enrol } from '../../auth/enrolment.js';

/** Unauthenticated routes: probes, metrics, CA discovery and the token-proved join. */
export async function publicRoutes(
  app: FastifyInstance,
  deps: EnrolmentDeps & { ready: () => boolean; metricsText: () => Promise<string>; metricsContentType: string },
): Promise<void> {
  app.get('/healthz', { config: { auth: 'none' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: 'none' } }, async (_req, reply) => {
    if (!deps.ready()) return reply.status(503).send({ status: 'not ready' });
    return { status: 'ready' };
  });

  app.get('/metrics', { config: { auth: 'none' } }, async (_req, reply) => {
    void reply.header('content-type', deps.metricsContentType);
    return deps.metricsText();
  });

  app.get(
    '/v1/join/ca',
    { config: { auth: 'none' }, schema: { response: { 200: CaResponseSchema } } },
    async () => ({ caCert: deps.ca.certPem }),
  );

  app.post<{ Body: JoinRequest }>(
    '/v1/join',
    {
      config: { auth: 'none', action: 'host.join' },
      schema: { body: JoinRequestSchema, response: { 200: JoinResponseSchema, '4xx': ErrorResponseSchema } },
    },
    async (request) => {
      request.audit.actor = `join-token:${request.body.token.split('.')[0] ?? '?'}`;
      request.audit.target = request.body.name;
      const result = await enrol(deps, request.body, request.ip);
      const { tokenId: _tokenId, ...response } = result;
      return response;
    },
  );
}
