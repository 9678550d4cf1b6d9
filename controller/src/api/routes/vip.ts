import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { BallastError, type ErrorCode } from '../../../../shared/src/errors.js';
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
import { errorHandler } from '../errors.js';

/**
 * HTTP statuses of the VIP's own codes. Kept with the routes (the shared table in errors.ts maps
 * the general codes): a refused move is a conflict with the cluster's state, not a server fault.
 */
const VIP_STATUS: Partial<Record<ErrorCode, number>> = {
  BALLAST_ERR_VIP_TARGET_UNFIT: 409,
  BALLAST_ERR_VIP_NO_HOLDER: 409,
  BALLAST_ERR_VIP_NOT_HOLDER: 409,
  BALLAST_ERR_VIP_NOT_CONFIGURED: 409,
  BALLAST_ERR_UNSUPPORTED: 409,
  BALLAST_ERR_VIP_MOVE_TIMEOUT: 504,
};

function vipErrorHandler(log: Logger) {
  const fallback = errorHandler(log);
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error instanceof BallastError ? VIP_STATUS[error.code] : undefined;
    if (error instanceof BallastError && status !== undefined) {
      void reply.status(status).send(error.toBody());
      return;
    }
    fallback(error, request, reply);
  };
}

/** The VIP (`ballastctl vip …`): status for viewers; move, exclude and include for operators (audited). */
export function registerVipRoutes(app: FastifyInstance, deps: { vip: VipService; log: Logger }): void {
  const { vip } = deps;
  const onError = vipErrorHandler(deps.log);
  const actor = (request: FastifyRequest) => request.operator?.name ?? 'unknown';

  app.get('/v1/vip', { config: { auth: 'viewer' }, errorHandler: onError, schema: { response: { 200: VipStatusResponseSchema } } }, async () => vip.status());

  app.post<{ Body: VipMoveRequest }>(
    '/v1/vip/move',
    { config: { auth: 'operator', action: 'vip.move' }, errorHandler: onError, schema: { body: VipMoveRequestSchema, response: { 200: VipMoveResponseSchema } } },
    async (request) => {
      request.audit.target = request.body.to;
      const res = await vip.move(request.body.to, actor(request));
      request.audit.detail = res.moved ? `moved VIP ${res.vip} from ${res.from} to ${res.to} in ${res.tookMs} ms (term ${res.term})` : `${res.to} already held VIP ${res.vip}`;
      return res;
    },
  );

  for (const action of ['exclude', 'include'] as const) {
    app.post<{ Body: VipHostRequest }>(
      `/v1/vip/${action}`,
      { config: { auth: 'operator', action: `vip.${action}` }, errorHandler: onError, schema: { body: VipHostRequestSchema, response: { 200: VipHostChangeResponseSchema } } },
      async (request) => {
        request.audit.target = request.body.host;
        const res = action === 'exclude' ? await vip.exclude(request.body.host, actor(request)) : await vip.include(request.body.host, actor(request));
        request.audit.detail = res.handedOverTo === null ? `${action} ${res.host}` : `${action} ${res.host}, VIP handed over to ${res.handedOverTo}`;
        return res;
      },
    );
  }
}
