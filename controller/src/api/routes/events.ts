import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { AuditListResponseSchema, AuditQuerySchema, EventListResponseSchema, EventQuerySchema } from '../../../../shared/src/api.js';
import { LIST_PAGE_MAX_BYTES } from '../../../../shared/src/paging.js';
import type { ControllerMetrics } from '../../metrics.js';
import type { Store } from '../../store/store.js';
import { capCounted } from '../page-budget.js';
import { auditOut, eventOut } from '../serialize.js';

type EventQuery = Static<typeof EventQuerySchema>;

/** Events (with long-poll for `--follow` / `--watch`) and the audit log. */
export async function eventRoutes(app: FastifyInstance, deps: { store: Store; metrics?: ControllerMetrics }): Promise<void> {
  app.get<{ Querystring: EventQuery }>(
    '/v1/events',
    { config: { auth: 'viewer' }, schema: { querystring: EventQuerySchema, response: { 200: EventListResponseSchema } } },
    async (request) => {
      const { host, after, limit = 100, wait = 0 } = request.query;
      const query = () => deps.store.events.list({ host, after, limit }).map(eventOut);
      let items = query();
      if (items.length === 0 && wait > 0 && after !== undefined) {
        // Long-poll: park until an event for this filter is appended, the wait ends, or the client leaves.
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            unsubscribe();
            request.raw.off('close', done);
            resolve();
          };
          const timer = setTimeout(done, wait * 1000);
          const unsubscribe = deps.store.events.onAppend((e) => {
            if (host === undefined || e.host === host) done();
          });
          request.raw.on('close', done);
        });
        items = query();
      }
      // Forwards from `after`: keep the oldest and let the client page on; else the newest N.
      const page = capCounted(deps.metrics, '/v1/events', items, LIST_PAGE_MAX_BYTES, after === undefined ? 'last' : 'first');
      const kept = page.items;
      const last = kept.length > 0 ? (kept[kept.length - 1]?.id ?? 0) : (after ?? deps.store.events.lastId());
      return { ...page, last };
    },
  );

  app.get<{ Querystring: Static<typeof AuditQuerySchema> }>(
    '/v1/audit',
    { config: { auth: 'viewer' }, schema: { querystring: AuditQuerySchema, response: { 200: AuditListResponseSchema } } },
    async (request) => capCounted(deps.metrics, '/v1/audit', deps.store.audit.list(request.query.limit ?? 100).map(auditOut), LIST_PAGE_MAX_BYTES),
  );
}
