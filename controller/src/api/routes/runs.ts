import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type RunCreateRequest,
  RunCreateRequestSchema,
  RunDocumentSchema,
  RunIdParamsSchema,
  RunListQuerySchema,
  RunListResponseSchema,
  RunProgressSchema,
  RunWaitQuerySchema,
} from '../../../../shared/src/runs-api.js';
import { LIST_PAGE_MAX_BYTES } from '../../../../shared/src/paging.js';
import type { ControllerMetrics } from '../../metrics.js';
import type { RunOrchestrator } from '../../runs/orchestrator.js';
import { capCounted } from '../page-budget.js';
import { actorOf, closeSignal } from '../request.js';

type IdParams = Static<typeof RunIdParamsSchema>;
type WaitQuery = Static<typeof RunWaitQuerySchema>;

async function waitIfAsked(runs: RunOrchestrator, request: FastifyRequest<{ Params: IdParams; Querystring: WaitQuery }>): Promise<void> {
  const { after, wait = 0 } = request.query;
  if (after === undefined || wait === 0) return;
  const { signal, release } = closeSignal(request);
  try {
    await runs.waitForChange(request.params.id, after, wait * 1000, signal);
  } finally {
    release();
  }
}

/** Role runs (`ballastctl apply`, `runs`, `run`): start, list, show (long-poll), progress, cancel. */
export async function runRoutes(app: FastifyInstance, deps: { runs: RunOrchestrator; metrics?: ControllerMetrics }): Promise<void> {
  const { runs } = deps;

  app.post<{ Body: RunCreateRequest }>(
    '/v1/runs',
    { config: { auth: 'operator', action: 'run.create' }, schema: { body: RunCreateRequestSchema, response: { 200: RunDocumentSchema } } },
    async (request) => {
      const { role, hosts, check } = request.body;
      request.audit.target = role;
      request.audit.detail = `role ${role} on ${hosts.join(',')}${check ? ' (check)' : ''}`;
      const doc = runs.start(request.body, actorOf(request));
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.get<{ Querystring: Static<typeof RunListQuerySchema> }>(
    '/v1/runs',
    { config: { auth: 'viewer' }, schema: { querystring: RunListQuerySchema, response: { 200: RunListResponseSchema } } },
    async (request) => capCounted(deps.metrics, '/v1/runs', runs.list(request.query.limit ?? 50), LIST_PAGE_MAX_BYTES),
  );

  app.get<{ Params: IdParams; Querystring: WaitQuery }>(
    '/v1/runs/:id',
    { config: { auth: 'viewer' }, schema: { params: RunIdParamsSchema, querystring: RunWaitQuerySchema, response: { 200: RunDocumentSchema } } },
    async (request) => {
      runs.find(request.params.id); // 404 before parking
      await waitIfAsked(runs, request);
      return runs.get(request.params.id);
    },
  );

  app.get<{ Params: IdParams; Querystring: WaitQuery }>(
    '/v1/runs/:id/progress',
    { config: { auth: 'viewer' }, schema: { params: RunIdParamsSchema, querystring: RunWaitQuerySchema, response: { 200: RunProgressSchema } } },
    async (request) => {
      runs.find(request.params.id);
      await waitIfAsked(runs, request);
      return runs.progress(request.params.id, request.query.after ?? 0, request.query.limit ?? 1000);
    },
  );

  app.post<{ Params: IdParams }>(
    '/v1/runs/:id/cancel',
    { config: { auth: 'operator', action: 'run.cancel' }, schema: { params: RunIdParamsSchema, response: { 200: RunDocumentSchema } } },
    async (request) => runs.cancel(request.params.id, actorOf(request)),
  );
}
