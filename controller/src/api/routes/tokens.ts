import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  TokenCreateRequestSchema,
  type TokenCreateRequest,
  TokenCreateResponseSchema,
  TokenInfoSchema,
  TokenListResponseSchema,
} from '../../../../shared/src/api.js';
import { generateJoinToken, hashJoinSecret } from '../../auth/join-token.js';
import type { Store } from '../../store/store.js';
import { installCommand } from '../install-routes.js';
import { tokenInfo } from '../serialize.js';
import { actorOf } from '../request.js';

/** Join token management (create/list/revoke). */
export async function tokenRoutes(
  app: FastifyInstance,
  deps: { store: Store; now: () => number; serverUrl: () => string; caHash: string; https?: { cert: string } },
): Promise<void> {
  app.post<{ Body: TokenCreateRequest }>(
    '/v1/tokens',
    { config: { auth: 'operator', action: 'token.create' }, schema: { body: TokenCreateRequestSchema, response: { 200: TokenCreateResponseSchema } } },
    async (request) => {
      const token = generateJoinToken();
      const record = deps.store.tokens.create({
        id: token.id,
        secretHash: hashJoinSecret(token.secret),
        description: request.body.description ?? '',
        createdBy: actorOf(request),
        ttlMs: request.body.ttlSeconds * 1000,
        usesAllowed: request.body.uses ?? null,
      });
      request.audit.target = token.id;
      request.audit.detail = `ttl ${request.body.ttlSeconds}s, uses ${request.body.uses ?? 'unlimited'}`;
      const server = deps.serverUrl();
      return {
        token: token.token,
        caHash: deps.caHash,
        server,
        joinCommand: `ballast-agent join --server ${server} --token ${token.token} --ca-hash ${deps.caHash}`,
        ...(deps.https === undefined
          ? {}
          : { installCommand: installCommand({ serverUrl: server, token: token.token, caHash: deps.caHash, serverCertPem: deps.https.cert }) }),
        info: tokenInfo(record, deps.now()),
      };
    },
  );

  app.get(
    '/v1/tokens',
    { config: { auth: 'viewer' }, schema: { response: { 200: TokenListResponseSchema } } },
    async () => ({ items: deps.store.tokens.list().map((t) => tokenInfo(t, deps.now())) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/tokens/:id',
    {
      config: { auth: 'operator', action: 'token.revoke' },
      schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: TokenInfoSchema } },
    },
    async (request) => tokenInfo(deps.store.tokens.revoke(request.params.id, deps.now()), deps.now()),
  );
}
