/**
 * Authentication and authorisation of every API route, secure by default (STYLE.md §15): a route
 * must declare who may call it (`config.auth`) or it fails to register, so the app does not start.
 * The declared kinds are then enforced here, before the body is read, and never inside handlers.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Role } from '../../../shared/src/api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { roleAllows } from '../auth/permissions.js';
import type { HubAuthPort } from '../hub/agent-hub.js';
import type { ControllerMetrics } from '../metrics.js';
import type { OperatorRecord } from '../store/operators.js';
import type { Store } from '../store/store.js';

/** One way in: an operator bearer token of at least this role, or an enrolled host's mTLS certificate. */
export type Credential = Role | 'host';

/** A route's declaration: 'none' (public), one credential, or several of which any one suffices. */
export type RouteAuth = 'none' | Credential | readonly Credential[];

/** The host a verified, enrolled, non-revoked client certificate belongs to. */
export interface HostIdentity {
  id: string;
  name: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Required: a route without it fails to register (see {@link registerAuth}). */
    auth?: RouteAuth;
    /** Audit action name for mutating routes, e.g. `token.create`. */
    action?: string;
  }
  interface FastifyRequest {
    operator: OperatorRecord | null;
    /** The host whose client certificate authenticated the request (routes that accept 'host'). */
    agentHost: HostIdentity | null;
    /** Filled by handlers for the audit log. */
    audit: { actor?: string; target?: string; detail?: string };
  }
}

/** What {@link registerAuth} checks credentials against. */
export interface AuthDeps {
  store: Store;
  metrics: ControllerMetrics;
  /** Checks a client certificate like the agent hub does; absent = host certificates are refused. */
  hostAuth?: HubAuthPort;
}

/** A registered route and what it declared, as listed by {@link declaredRoutes}. */
export interface DeclaredRoute {
  method: string;
  url: string;
  auth: RouteAuth;
}

const DECLARED = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route registered on `app` so far with its auth declaration (HEAD twins included). */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  return DECLARED.get(app) ?? [];
}

const CREDENTIALS: ReadonlySet<string> = new Set<Credential>(['viewer', 'operator', 'admin', 'host']);

/** Why `auth` is not a usable declaration, or null when it is. */
export function authDeclarationProblem(auth: unknown): string | null {
  if (auth === undefined) return 'it declares no auth (config.auth: "none", a role, "host" or a list of them)';
  if (auth === 'none') return null;
  const kinds: unknown[] = Array.isArray(auth) ? auth : [auth];
  if (kinds.length === 0) return 'its auth list is empty';
  const unknown = kinds.find((k) => typeof k !== 'string' || !CREDENTIALS.has(k));
  return unknown === undefined ? null : `its auth ${JSON.stringify(unknown)} is not "none", a role or "host"`;
}

/** The credentials a declaration accepts; empty for a public route. */
function credentialsOf(auth: RouteAuth): readonly Credential[] {
  if (auth === 'none') return [];
  return typeof auth === 'string' ? [auth] : auth;
}

/**
 * Installs the declaration check (an `onRoute` hook: registering a route without a valid
 * `config.auth` throws, so a forgotten declaration stops the start-up instead of opening a route)
 * and the enforcement (an `onRequest` hook, before the body is parsed). Must run before any route
 * plugin is registered, so every plugin inherits both hooks.
 */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('operator', null);
  app.decorateRequest('agentHost', null);
  const declared: DeclaredRoute[] = [];
  DECLARED.set(app, declared);

  app.addHook('onRoute', (route: RouteOptions) => {
    const auth = route.config?.auth;
    const problem = authDeclarationProblem(auth);
    if (problem !== null || auth === undefined) {
      const method = [route.method].flat().join(',');
      throw new BallastError('BALLAST_ERR_INTERNAL', `failed to register route ${method} ${route.url}: ${problem}`);
    }
    for (const method of [route.method].flat()) declared.push({ method, url: route.url, auth });
  });

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const auth = request.routeOptions.config.auth;
    // Only the not-found handler has no declaration (every route was checked when it registered);
    // anything else without one is refused rather than let through.
    if (auth === undefined && request.is404) return;
    if (auth === undefined) throw new BallastError('BALLAST_ERR_UNAUTHENTICATED', 'failed to authorise request: the route declares no auth');
    const accepted = credentialsOf(auth);
    if (accepted.length === 0) return;
    if (accepted.includes('host') && authenticateHost(request, deps)) return;
    const roles = accepted.filter((c): c is Role => c !== 'host');
    authenticateOperator(request, deps, roles, accepted.includes('host'));
  });
}

/**
 * True when the request carries a client certificate that TLS verified against our CA and that
 * belongs to an enrolled host (the hub's check: revoked or superseded certificates are refused with
 * 403). False when there is no verified certificate, so an operator token may still be tried.
 */
function authenticateHost(request: FastifyRequest, deps: AuthDeps): boolean {
  const tls = request.raw.socket as TLSSocket;
  // Plain HTTP (tests) or no certificate sent: nothing to check.
  if (typeof tls.getPeerCertificate !== 'function' || tls.authorized !== true) return false;
  const peer = tls.getPeerCertificate();
  if (peer === null || peer === undefined || Object.keys(peer).length === 0) return false;
  if (deps.hostAuth === undefined) return false;
  const who = deps.hostAuth.identify({ commonName: String(peer.subject?.CN ?? ''), serial: peer.serialNumber });
  if (!who.ok) {
    deps.metrics.authRejected.inc({ reason: 'host_cert' });
    throw new BallastError(who.error.code, who.error.message);
  }
  request.agentHost = who.host;
  return true;
}

/** Checks the bearer token and the least role among `roles`; throws 401/403 coded errors. */
function authenticateOperator(request: FastifyRequest, deps: AuthDeps, roles: readonly Role[], hostToo: boolean): void {
  const needed = roles.find((r) => roles.every((other) => roleAllows(other, r)));
  const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
  if (match === null || needed === undefined) {
    deps.metrics.authRejected.inc({ reason: 'no_token' });
    const what = needed === undefined ? 'an enrolled host client certificate (mTLS)' : hostToo ? 'an enrolled host client certificate (mTLS) or an operator bearer token' : undefined;
    throw new BallastError(
      'BALLAST_ERR_UNAUTHENTICATED',
      what === undefined ? 'missing "Authorization: Bearer <token>" header' : `failed to authorise request: ${request.routeOptions.url} needs ${what}`,
    );
  }
  const operator = deps.store.operators.findByToken(match[1] as string);
  if (operator === null) {
    deps.metrics.authRejected.inc({ reason: 'bad_token' });
    const revoked = deps.store.operators.findRevokedByToken(match[1] as string);
    if (revoked !== null) request.audit.actor = `${revoked.name} (revoked)`;
    throw new BallastError('BALLAST_ERR_UNAUTHENTICATED', 'unknown or revoked operator token');
  }
  request.operator = operator;
  if (!roleAllows(operator.role, needed)) {
    deps.metrics.authRejected.inc({ reason: 'forbidden' });
    const action = request.routeOptions.config.action ?? `${request.method} ${request.routeOptions.url}`;
    throw new BallastError('BALLAST_ERR_FORBIDDEN', `operator "${operator.name}" has role ${operator.role}; ${action} needs role ${needed} or higher`);
  }
}
