import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { HostDetailResponseSchema, type HostLabelRequest, HostLabelRequestSchema, HostListResponseSchema, HostSummarySchema } from '../../../../shared/src/api.js';
import { BallastError } from '../../../../shared/src/errors.js';
import { HOST_LIST_MAX_BYTES, LIST_PAGE_MAX_BYTES } from '../../../../shared/src/paging.js';
import type { HostTracker } from '../../hub/host-tracker.js';
import type { ControllerMetrics } from '../../metrics.js';
import { capCounted } from '../page-budget.js';
import type { Store } from '../../store/store.js';
import { eventOut, hostSummary } from '../serialize.js';
import { actorOf } from '../request.js';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });

/** Host inventory: list, detail, labels, removal (revokes the certificate) and an RPC round trip. */
export async function hostRoutes(
  app: FastifyInstance,
  deps: { store: Store; tracker: HostTracker; now: () => number; metrics?: ControllerMetrics },
): Promise<void> {
  const find = (name: string) => {
    const host = deps.store.hosts.getByName(name);
    if (host === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `host "${name}" is not enrolled`);
    return host;
  };

  app.get('/v1/hosts', { config: { auth: 'viewer' }, schema: { response: { 200: HostListResponseSchema } } }, async () =>
    capCounted(deps.metrics, '/v1/hosts', deps.store.hosts.list().map((h) => hostSummary(h, deps.tracker)), HOST_LIST_MAX_BYTES),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/hosts/:name',
    { config: { auth: 'viewer' }, schema: { params: NameParams, response: { 200: HostDetailResponseSchema } } },
    async (request) => {
      const host = find(request.params.name);
      return {
        host: hostSummary(host, deps.tracker),
        facts: host.facts,
        health: host.health,
        // Rows stored before event frames were bounded can be 1 MiB each: the budget applies here too.
        events: capCounted(deps.metrics, '/v1/hosts/:name', deps.store.events.list({ host: host.name, limit: 20 }).map(eventOut), LIST_PAGE_MAX_BYTES, 'last').items,
      };
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/hosts/:name',
    { config: { auth: 'operator', action: 'host.remove' }, schema: { params: NameParams, response: { 200: HostSummarySchema } } },
    async (request) => {
      const host = find(request.params.name);
      const summary = hostSummary(host, deps.tracker);
      deps.store.hosts.remove(host.id, deps.now(), `removed by ${actorOf(request)}`);
      deps.tracker.remove(host.id);
      deps.store.events.append({
        host: host.name,
        kind: 'removed',
        message: `host removed by ${actorOf(request)}; certificate ${host.certSerial} revoked`,
        data: { certSerial: host.certSerial },
      });
      return summary;
    },
  );

  // Operator, not admin: a label is inventory metadata like a host's removal (an operator's), and
  // putting a host in a spare pool only makes it a candidate for node replace, which an operator
  // may start by hand anyway. Admin-only would push day-2 pool upkeep onto the credential that
  // also mints operators. Audited ('host.label') with the request's outcome; an event records the change.
  app.patch<{ Params: { name: string }; Body: HostLabelRequest }>(
    '/v1/hosts/:name/labels',
    { config: { auth: 'operator', action: 'host.label' }, schema: { params: NameParams, body: HostLabelRequestSchema, response: { 200: HostSummarySchema } } },
    async (request) => {
      // The requested change is the audit detail, so a refused one (exists, invalid) shows what was asked.
      const asked = [...Object.entries(request.body.set).map(([k, v]) => `${k}=${v}`), ...request.body.remove.map((k) => `${k}-`)];
      request.audit.detail = `${asked.join(' ')}${request.body.overwrite ? ' --overwrite' : ''}`.slice(0, 2000);
      const host = find(request.params.name);
      const updated = deps.store.hosts.changeLabels(host.id, request.body);
      const shown = Object.entries(updated.labels).map(([k, v]) => `${k}=${v}`).join(',');
      deps.store.events.append({
        host: host.name,
        kind: 'host.labels',
        message: `labels set by ${actorOf(request)}: ${shown === '' ? '<none>' : shown}`,
        data: { labels: updated.labels, set: request.body.set, remove: request.body.remove },
      });
      return hostSummary(updated, deps.tracker);
    },
  );

  app.post<{ Params: { name: string } }>(
    '/v1/hosts/:name/ping',
    {
      config: { auth: 'operator', action: 'host.ping' },
      schema: {
        params: NameParams,
        response: { 200: Type.Object({ host: Type.String(), roundTripMs: Type.Number(), agentTime: Type.Number() }) },
      },
    },
    async (request) => {
      const host = find(request.params.name);
      const session = deps.tracker.get(host.id)?.session;
      if (session === null || session === undefined) {
        throw new BallastError('BALLAST_ERR_HOST_NOT_CONNECTED', `failed to ping host "${host.name}": it has no agent connected`);
      }
      const started = performance.now();
      const { ts } = await session.request((id) => ({ type: 'req.ping', id, timeoutMs: 5000 }));
      return { host: host.name, roundTripMs: performance.now() - started, agentTime: ts };
    },
  );
}
