import type { FastifyInstance } from 'fastify';
import {
  type VipHostRequest,
  VipHostChangeResponseSchema,
  VipHostRequestSchema,
  type VipMoveRequest,
  VipMoveRequestSchema,
  VipMoveResponseSchema,
  VipStatusResponseSchema,
} from '../../../../shared/src/vip-api.js';
import type { VipService } from '../../vip/service.js';
import { actorOf } from '../request.js';

/** The VIP (`ballastctl vip …`): status for viewers; move, exclude and include for operators (audited). */
export async function vipRoutes(app: FastifyInstance, deps: { vip: VipService }): Promise<void> {
  const { vip } = deps;

  app.get('/v1/vip', { config: { auth: 'viewer' }, schema: { response: { 200: VipStatusResponseSchema } } }, async () => vip.status());

  app.post<{ Body: VipMoveRequest }>(
    '/v1/vip/move',
    { config: { auth: 'operator', action: 'vip.move' }, schema: { body: VipMoveRequestSchema, response: { 200: VipMoveResponseSchema } } },
    async (request) => {
      request.audit.target = request.body.to;
      const res = await vip.move(request.body.to, actorOf(request));
      request.audit.detail = res.moved ? `moved VIP ${res.vip} from ${res.from} to ${res.to} in ${res.tookMs} ms (term ${res.term})` : `${res.to} already held VIP ${res.vip}`;
      return res;
    },
  );

  for (const action of ['exclude', 'include'] as const) {
    app.post<{ Body: VipHostRequest }>(
      `/v1/vip/${action}`,
      { config: { auth: 'operator', action: `vip.${action}` }, schema: { body: VipHostRequestSchema, response: { 200: VipHostChangeResponseSchema } } },
      async (request) => {
        request.audit.target = request.body.host;
        const res = action === 'exclude' ? await vip.exclude(request.body.host, actorOf(request)) : await vip.include(request.body.host, actorOf(request));
        request.audit.detail = res.handedOverTo === null ? `${action} ${res.host}` : `${action} ${res.host}, VIP handed over to ${res.handedOverTo}`;
        return res;
      },
    );
  }
}
