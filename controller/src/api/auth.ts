import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../../shared/src/api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { roleAllows } from '../auth/permissions.js';
import type { OperatorRecord } from '../store/operators.js';
import type { Store } from '../store/store.js';
import type { ControllerMetrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role allowed to call the route; 'none' for unauthenticated routes. */
    auth?: Role | 'none';
    /** Audit action name for mutating routes, e.g. `token.create`. */
    action?: string;
  }
  interface FastifyRequest {
    operator: OperatorRecord | null;
    /** Filled by handlers for the audit log. */
    audit: { actor?: string; target?: string; detail?: string };
  }
}

/**
 * Authenticates operators by bearer token and enforces each route's least role. Every mutating call
 * — including refused ones — is written to the audit log when the response is sent.
 */
export function registerAuth(app: FastifyInstance, deps: { store: Store; metrics: ControllerMetrics }): void {
  app.decorateRequest('operator', null);
  // Objects must not be shared between requests: the onRequest hook gives each request its own.
  app.decorateRequest('audit', undefined as unknown as FastifyRequest['audit']);

  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    request.audit = {};
    const needed = request.routeOptions.config.auth;
    if (needed === undefined || needed === 'none') return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (match === null) {
      deps.metrics.authRejected.inc({ reason: 'no_token' });
      throw new BallastError('BALLAST_ERR_UNAUTHENTICATED', 'missing "Authorization: Bearer <token>" header');
    }
    const operator = deps.store.operators.findByToken(match[1] as string);
    if (operator === null) {
      deps.metrics.authRejected.inc({ reason: 'bad_token' });
      throw new BallastError('BALLAST_ERR_UNAUTHENTICATED', 'unknown or revoked operator token');
    }
    request.operator = operator;
    if (!roleAllows(operator.role, needed)) {
      deps.metrics.authRejected.inc({ reason: 'forbidden' });
      const action = request.routeOptions.config.action ?? `${request.method} ${request.routeOptions.url}`;
      throw new BallastError(
        'BALLAST_ERR_FORBIDDEN',
        `operator "${operator.name}" has role ${operator.role}; ${action} needs role ${needed} or higher`,
      );
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const action = request.routeOptions.config.action;
    if (action === undefined) return;
    const status = reply.statusCode;
    const params = (request.params ?? {}) as Record<string, string>;
    deps.store.audit.append({
      actor: request.operator?.name ?? request.audit.actor ?? 'anonymous',
      role: request.operator?.role ?? 'none',
      action,
      target: request.audit.target ?? params.name ?? params.id ?? '',
      outcome: status < 400 ? 'ok' : status === 401 || status === 403 ? 'denied' : 'failed',
      detail: request.audit.detail ?? `HTTP ${status}`,
    });
  });
}
