import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  OperationDocumentSchema,
  OperationIdParamsSchema,
  OperationListQuerySchema,
  OperationListResponseSchema,
  OperationWaitQuerySchema,
} from '../../../../shared/src/ops-api.js';
import { LIST_PAGE_MAX_BYTES } from '../../../../shared/src/paging.js';
import type { ControllerMetrics } from '../../metrics.js';
import type { OperationEngine } from '../../ops/engine.js';
import { capCounted } from '../page-budget.js';
import { actorOf, closeSignal } from '../request.js';

type IdParams = Static<typeof OperationIdParamsSchema>;
type WaitQuery = Static<typeof OperationWaitQuerySchema>;

/**
 * Operations (`ballastctl ops`, `op`): list, show (long-poll), resume, abort. Starting one is
 * kind-specific (e.g. `POST /v1/clusters`), through `OperationEngine.start`.
 */
export async function opsRoutes(app: FastifyInstance, deps: { ops: OperationEngine; metrics?: ControllerMetrics }): Promise<void> {
  const { ops } = deps;

  app.get<{ Querystring: Static<typeof OperationListQuerySchema> }>(
    '/v1/ops',
    { config: { auth: 'viewer' }, schema: { querystring: OperationListQuerySchema, response: { 200: OperationListResponseSchema } } },
    async (request) => {
      const kinds = request.query.kind === undefined ? undefined : [...new Set(request.query.kind.split(','))];
      return capCounted(deps.metrics, '/v1/ops', ops.list(request.query.limit ?? 50, kinds), LIST_PAGE_MAX_BYTES);
    },
  );

  app.get<{ Params: IdParams; Querystring: WaitQuery }>(
    '/v1/ops/:id',
    {
      config: { auth: 'viewer' },
      schema: { params: OperationIdParamsSchema, querystring: OperationWaitQuerySchema, response: { 200: OperationDocumentSchema } },
    },
    async (request) => {
      const { id } = request.params;
      ops.find(id); // 404 before parking
      const { after, waitMs = 0 } = request.query;
      if (after !== undefined && waitMs > 0) {
        const { signal, release } = closeSignal(request);
        try {
          await ops.waitForChange(id, after, waitMs, signal);
        } finally {
          release();
        }
      }
      return ops.get(id);
    },
  );

  app.post<{ Params: IdParams }>(
    '/v1/ops/:id/resume',
    { config: { auth: 'operator', action: 'op.resume' }, schema: { params: OperationIdParamsSchema, response: { 200: OperationDocumentSchema } } },
    async (request) => ops.resume(request.params.id, actorOf(request)),
  );

  app.post<{ Params: IdParams }>(
    '/v1/ops/:id/abort',
    { config: { auth: 'operator', action: 'op.abort' }, schema: { params: OperationIdParamsSchema, response: { 200: OperationDocumentSchema } } },
    async (request) => ops.abort(request.params.id, actorOf(request)),
  );
}
