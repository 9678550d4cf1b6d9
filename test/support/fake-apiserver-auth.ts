/**
 * Authentication and authorization of the fake kube-apiserver (fake-apiserver.ts; a fake because
 * kube-apiserver cannot be installed or run on the machines these tests run on).
 *
 * Authentication, in kube-apiserver's order:
 * - A client certificate signed by the fake's client CA: the user is its CN; allowed everything
 *   (no RBAC in the fake).
 * - `Authorization: Bearer <token>` with one of the configured bootstrap tokens
 *   (`[a-z0-9]{6}.[a-z0-9]{16}`): user `system:bootstrap:<token id>`, groups
 *   `system:bootstrappers`, `system:bootstrappers:kubeadm:default-node-token` and
 *   `system:authenticated`, as kube-apiserver's bootstrap token authenticator names them. A bearer
 *   token that is not configured is 401.
 * - A client certificate that does not verify: 401, as kube-apiserver's x509 authenticator answers.
 * - Nothing: anonymous (`system:anonymous`), as in a kubeadm cluster (anonymous auth on). RBAC's
 *   defaults let it read /healthz, /livez, /readyz and /version (system:public-info-viewer) — what
 *   load balancers and the VIP's health check use — and kube-public/cluster-info, which kubeadm's
 *   token discovery reads; anything else is 403 Forbidden.
 *
 * Authorization of bootstrap-token users (a simplification, documented so nobody relies on it):
 * real ones may only create CSRs, and kubelets register with the node client certificate the TLS
 * bootstrap gives them. The stand-in kubelet has no certificate, so a bootstrap token may register
 * Nodes and read and update a Node and its status, plus read /healthz, /livez, /readyz and /version
 * (system:public-info-viewer) and discovery (system:discovery). Anything else is 403 with kube-apiserver's Forbidden message.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type Resource, StatusError } from './fake-apiserver-store.js';

/** Who sent a request. */
export interface Identity {
  user: string;
  groups: string[];
  via: 'certificate' | 'bootstrap-token';
}

/** What a request asks for, as kube-apiserver's authorizer sees it. */
export type RequestAttributes =
  | { kind: 'resource'; verb: string; r: Resource; namespace?: string; name?: string; subresource?: string }
  | { kind: 'nonResource'; verb: string; path: string };

const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const PUBLIC_INFO = new Set(['/healthz', '/livez', '/readyz', '/version']);

/** Refuses tokens kube-apiserver would never accept, so a typo fails at start. */
export function checkBootstrapToken(token: string): void {
  if (!TOKEN.test(token)) throw new Error(`bootstrap token ${JSON.stringify(token)} is not of the form [a-z0-9]{6}.[a-z0-9]{16}`);
}

/** The identity of a request, null when anonymous; throws 401 for a bearer token that is not known. */
export function authenticate(req: IncomingMessage, bootstrapTokens: ReadonlySet<string>): Identity | null {
  const socket = req.socket as TLSSocket;
  if (socket.authorized) {
    return { user: String(socket.getPeerCertificate().subject?.CN ?? ''), groups: ['system:authenticated'], via: 'certificate' };
  }
  // A certificate was presented but does not chain to the client CA.
  if (Object.keys(socket.getPeerCertificate() ?? {}).length > 0) throw unauthorized();
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const id = token === undefined ? undefined : TOKEN.exec(token)?.[1];
  if (token === undefined || id === undefined || !bootstrapTokens.has(token)) throw unauthorized();
  return {
    user: `system:bootstrap:${id}`,
    groups: ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated'],
    via: 'bootstrap-token',
  };
}

export function unauthorized(): StatusError {
  return new StatusError(401, 'Unauthorized', 'Unauthorized');
}

/** Throws 401/403 unless `who` may do `what`. */
export function authorize(who: Identity | null, what: RequestAttributes, options: { anonymousClusterInfo: boolean }): void {
  if (who === null) {
    const clusterInfo =
      what.kind === 'resource' && what.verb === 'get' && what.r.plural === 'configmaps' && what.namespace === 'kube-public' && what.name === 'cluster-info';
    if (clusterInfo && options.anonymousClusterInfo) return;
    if (what.kind === 'nonResource' && what.verb === 'get' && PUBLIC_INFO.has(what.path)) return;
    const target = what.kind === 'nonResource' ? `path "${what.path}"` : `resource "${what.r.plural}" in API group "${what.r.group}"`;
    throw new StatusError(403, 'Forbidden', `forbidden: User "system:anonymous" cannot ${what.verb} ${target}`);
  }
  if (who.via === 'certificate') return;
  if (what.kind === 'nonResource') {
    const discovery = /^\/apis?(\/|$)/.test(what.path);
    if (what.verb === 'get' && (PUBLIC_INFO.has(what.path) || discovery)) return;
    throw new StatusError(403, 'Forbidden', `forbidden: User "${who.user}" cannot ${what.verb} path "${what.path}"`);
  }
  const node = what.r.group === '' && what.r.plural === 'nodes';
  const allowed = node && (what.name === undefined ? what.verb === 'create' : ['get', 'update', 'patch'].includes(what.verb) && (what.subresource ?? 'status') === 'status');
  if (allowed) return;
  const resource = what.subresource === undefined ? what.r.plural : `${what.r.plural}/${what.subresource}`;
  const scope = what.namespace === undefined ? 'at the cluster scope' : `in the namespace "${what.namespace}"`;
  const named = what.name === undefined ? '' : ` "${what.name}"`;
  throw new StatusError(
    403,
    'Forbidden',
    `${what.r.plural}${named} is forbidden: User "${who.user}" cannot ${what.verb} resource "${resource}" in API group "${what.r.group}" ${scope}`,
    { ...(what.name === undefined ? {} : { name: what.name }), kind: what.r.plural },
  );
}
