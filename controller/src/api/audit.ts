/**
 * The audit log of the API: every call to a route that declares an `action` — including refused
 * ones — is written when its response is sent, with the outcome its status implies.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Store } from '../store/store.js';

/** Gives each request its own audit notes and appends the audit entry of audited routes. */
export function registerAudit(app: FastifyInstance, deps: { store: Store }): void {
  // Objects must not be shared between requests: the onRequest hook gives each request its own.
  app.decorateRequest('audit', undefined as unknown as FastifyRequest['audit']);

  app.addHook('onRequest', async (request) => {
    request.audit = {};
  });

  app.addHook('onResponse', async (request, reply) => {
    const action = request.routeOptions.config.action;
    if (action === undefined) return;
    const status = reply.statusCode;
    const params = (request.params ?? {}) as Record<string, string>;
    const host = request.agentHost === null ? undefined : `host:${request.agentHost.name}`;
    deps.store.audit.append({
      actor: request.operator?.name ?? request.audit.actor ?? host ?? 'anonymous',
      role: request.operator?.role ?? 'none',
      action,
      target: request.audit.target ?? params.name ?? params.id ?? '',
      outcome: status < 400 ? 'ok' : status === 401 || status === 403 ? 'denied' : 'failed',
      detail: request.audit.detail ?? `HTTP ${status}`,
    });
  });
}
