import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ClusterNameParamsSchema } from '../../../../shared/src/clusters-api.js';
import { BallastError, isBallastError } from '../../../../shared/src/errors.js';
import {
  MembershipLockResponseSchema,
  type NodeAddRequest,
  NodeAddRequestSchema,
  type NodeRemoveRequest,
  NodeRemoveRequestSchema,
  type NodeReplaceRequest,
  NodeReplaceRequestSchema,
} from '../../../../shared/src/nodes-api.js';
import { isOperationFinished, OperationDocumentSchema, type OperationState } from '../../../../shared/src/ops-api.js';
import { type MembershipRequest, type SpecSource, startMembershipChange } from '../../membership/start.js';
import { type MembershipDeps, NODE_ADD, NODE_REMOVE, NODE_REPLACE } from '../../membership/types.js';
import type { OperationEngine } from '../../ops/engine.js';
import type { MembershipLock } from '../../store/membership.js';
import { actorOf } from '../request.js';

/** What the node routes need. */
export interface NodeRoutesDeps {
  ops: OperationEngine;
  membership: MembershipDeps;
  specs: SpecSource;
}

const lockView = (cluster: string, lock: MembershipLock | null) => ({
  cluster,
  lock: lock === null ? null : { operationId: lock.operationId, kind: lock.kind, detail: lock.detail, acquiredAt: new Date(lock.acquiredAt).toISOString() },
});

/** `ballastctl node replace | add | remove | unlock` (shared/src/nodes-api.ts lists the routes). */
export async function nodeRoutes(app: FastifyInstance, deps: NodeRoutesDeps): Promise<void> {
  const env = (actor: string) => ({ ops: deps.ops, deps: deps.membership, specs: deps.specs, actor });
  const response = { 200: OperationDocumentSchema };

  app.post<{ Body: NodeReplaceRequest }>(
    '/v1/nodes/replace',
    { config: { auth: 'operator', action: 'node.replace' }, schema: { body: NodeReplaceRequestSchema, response } },
    async (request) => {
      const b = request.body;
      request.audit.target = b.old;
      request.audit.detail = `with ${b.new}${b.check ? ' (check)' : ''}`;
      if (b.old === b.new) throw new BallastError('BALLAST_ERR_VALIDATION', 'failed to replace a host with itself: --with must name another host', { path: '/new' });
      const req: MembershipRequest = { old: b.old, add: b.new, ...(b.address === undefined ? {} : { address: b.address }), confirmPoweredOff: b.confirmPoweredOff, check: b.check, diff: b.diff };
      const doc = await startMembershipChange(NODE_REPLACE, req, env(actorOf(request)));
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.post<{ Body: NodeAddRequest }>(
    '/v1/nodes/add',
    { config: { auth: 'operator', action: 'node.add' }, schema: { body: NodeAddRequestSchema, response } },
    async (request) => {
      const b = request.body;
      request.audit.target = b.host;
      request.audit.detail = `to ${b.cluster} as ${b.roles.join(',')}${b.check ? ' (check)' : ''}`;
      const req: MembershipRequest = { cluster: b.cluster, add: b.host, roles: [...b.roles], ...(b.address === undefined ? {} : { address: b.address }), check: b.check, diff: b.diff };
      const doc = await startMembershipChange(NODE_ADD, req, env(actorOf(request)));
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.post<{ Body: NodeRemoveRequest }>(
    '/v1/nodes/remove',
    { config: { auth: 'operator', action: 'node.remove' }, schema: { body: NodeRemoveRequestSchema, response } },
    async (request) => {
      const b = request.body;
      request.audit.target = b.host;
      request.audit.detail = `${b.forceOffline ? 'force-offline' : ''}${b.check ? ' (check)' : ''}`;
      const req: MembershipRequest = { old: b.host, forceOffline: b.forceOffline, confirmPoweredOff: b.confirmPoweredOff, check: b.check, diff: b.diff };
      const doc = await startMembershipChange(NODE_REMOVE, req, env(actorOf(request)));
      request.audit.target = doc.id;
      return doc;
    },
  );

  app.get<{ Params: Static<typeof ClusterNameParamsSchema> }>(
    '/v1/clusters/:name/membership-lock',
    { config: { auth: 'viewer' }, schema: { params: ClusterNameParamsSchema, response: { 200: MembershipLockResponseSchema } } },
    async (request) => lockView(request.params.name, deps.membership.repo.lock(request.params.name)),
  );

  app.delete<{ Params: Static<typeof ClusterNameParamsSchema> }>(
    '/v1/clusters/:name/membership-lock',
    { config: { auth: 'operator', action: 'node.unlock' }, schema: { params: ClusterNameParamsSchema, response: { 200: MembershipLockResponseSchema } } },
    async (request) => {
      const { name } = request.params;
      request.audit.target = name;
      const held = deps.membership.repo.lock(name);
      if (held === null) return { ...lockView(name, null), released: false };
      // An operation no longer in the store (pruned) cannot be resumed: its lock may go.
      let state: OperationState | 'gone' = 'gone';
      try {
        state = deps.ops.find(held.operationId).state;
      } catch (err) {
        if (!isBallastError(err, 'BALLAST_ERR_NOT_FOUND')) throw err;
      }
      if (state !== 'gone' && !isOperationFinished(state)) {
        throw new BallastError('BALLAST_ERR_MEMBERSHIP_LOCKED', `failed to unlock cluster ${name}: ${held.operationId} is ${state}; resume or abort it first (ballastctl op ${held.operationId})`);
      }
      request.audit.detail = `released ${held.operationId} (${held.kind}: ${held.detail}, ${state})`;
      return { ...lockView(name, null), released: deps.membership.repo.release(name, held.operationId) };
    },
  );
}
