import type { FastifyInstance } from 'fastify';
import { type Static, Type } from '@sinclair/typebox';
import {
  OperatorCreateRequestSchema,
  OperatorCreateResponseSchema,
  OperatorInfoSchema,
  OperatorListResponseSchema,
  WhoAmIResponseSchema,
} from '../../../../shared/src/api.js';
import type { Store } from '../../store/store.js';
import { operatorInfo } from '../serialize.js';

/** Operator accounts (admin only) and whoami. */
export async function operatorRoutes(app: FastifyInstance, deps: { store: Store }): Promise<void> {
  app.get('/v1/whoami', { config: { auth: 'viewer' }, schema: { response: { 200: WhoAmIResponseSchema } } }, async (request) => ({
    name: request.operator?.name ?? '',
    role: request.operator?.role ?? 'viewer',
  }));

  app.post<{ Body: Static<typeof OperatorCreateRequestSchema> }>(
    '/v1/operators',
    {
      config: { auth: 'admin', action: 'operator.create' },
      schema: { body: OperatorCreateRequestSchema, response: { 200: OperatorCreateResponseSchema } },
    },
    async (request) => {
      request.audit.target = request.body.name;
      request.audit.detail = `role ${request.body.role}`;
      const created = deps.store.operators.create(request.body);
      return { token: created.token, info: operatorInfo(created.operator) };
    },
  );

  app.get('/v1/operators', { config: { auth: 'admin' }, schema: { response: { 200: OperatorListResponseSchema } } }, async () => ({
    items: deps.store.operators.list().map(operatorInfo),
  }));

  app.delete<{ Params: { name: string } }>(
    '/v1/operators/:name',
    {
      config: { auth: 'admin', action: 'operator.revoke' },
      schema: { params: Type.Object({ name: Type.String({ maxLength: 63 }) }), response: { 200: OperatorInfoSchema } },
    },
    async (request) => operatorInfo(deps.store.operators.revoke(request.params.name)),
  );
}
