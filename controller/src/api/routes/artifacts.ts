import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  ARTIFACT_SHA256_HEADER,
  type ArtifactFetchRequest,
  ArtifactFetchRequestSchema,
  type ArtifactImportResponse,
  ArtifactImportResponseSchema,
  type ArtifactInfo,
  artifactLabel,
  ArtifactListResponseSchema,
  type Catalogue,
} from '../../../../shared/src/artifacts-api.js';
import { LimitExceededError } from '../../../../shared/src/artifacts-archive.js';
import { BallastError } from '../../../../shared/src/errors.js';
import { statusOf } from '../errors.js';
import type { ArtifactRecord } from '../../artifacts/artifact-repo.js';
import { ArtifactMirror, type MirrorChange } from '../../artifacts/mirror.js';
import type { FetchPort } from '../../artifacts/download.js';
import type { HubAuthPort } from '../../hub/agent-hub.js';
import type { Store } from '../../store/store.js';
import type { Logger } from 'pino';

/** What the composition root passes to enable the artifact routes (AppDeps.artifacts). */
export interface ArtifactRoutesOptions {
  /** `<data dir>/artifacts`. */
  mirrorDir: string;
  /** The same check the agent hub applies to client certificates (enrolled, not revoked). */
  auth: HubAuthPort;
  /** Largest accepted bundle (default 2 GiB). */
  maxBundleBytes?: number;
  /** Catalogue used by fetch without a body catalogue (default: the built-in one). */
  catalogue?: Catalogue;
  downloadTimeoutMs?: number;
  fetch?: FetchPort;
}

const BUNDLE_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-gzip', 'application/x-tar'];

const RefParams = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' }),
  version: Type.String({ pattern: '^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,63}$' }),
  arch: Type.String({ pattern: '^[a-z0-9_]{1,16}$' }),
});

/** An artifact record as the API shows it. */
export function artifactInfo(r: ArtifactRecord): ArtifactInfo {
  return { name: r.name, version: r.version, os: r.os, arch: r.arch, sha256: r.sha256, size: r.size, url: r.url, file: r.file, importedAt: new Date(r.importedAt).toISOString() };
}

function importResponse(changes: readonly MirrorChange[]): ArtifactImportResponse {
  return {
    added: changes.filter((c) => c.status === 'added').length,
    unchanged: changes.filter((c) => c.status === 'unchanged').length,
    items: changes.map((c) => ({ status: c.status, artifact: artifactInfo(c.record) })),
  };
}

/** Sends coded errors with their status (api/errors.ts) and notes them for the audit log; rethrows the rest. */
function sendFailure(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof BallastError) request.audit.detail = err.message.slice(0, 1000);
  if (err instanceof LimitExceededError) return reply.status(413).send(err.toBody());
  if (err instanceof BallastError) return reply.status(statusOf(err.code)).send(err.toBody());
  throw err;
}

/**
 * The artifact mirror's API (shared/src/artifacts-api.ts). Registered in its own plugin scope so the
 * streaming tarball parser applies to these routes only.
 */
export function registerArtifactRoutes(app: FastifyInstance, deps: ArtifactRoutesOptions & { store: Store; log: Logger }): void {
  const mirror = new ArtifactMirror({
    dir: deps.mirrorDir,
    repo: deps.store.artifacts,
    log: deps.log.child({ component: 'artifacts' }),
    maxBundleBytes: deps.maxBundleBytes,
    catalogue: deps.catalogue,
    downloadTimeoutMs: deps.downloadTimeoutMs,
    fetch: deps.fetch,
  });

  void app.register(async (scope) => {
    // Hand the raw request stream to the handler: the mirror streams it to disk under its own bound.
    scope.addContentTypeParser(BUNDLE_TYPES, { bodyLimit: mirror.maxBundleBytes }, (_req, payload, done) => done(null, payload));

    scope.get('/v1/artifacts', { config: { auth: 'viewer' }, schema: { response: { 200: ArtifactListResponseSchema } } }, async () => ({
      items: mirror.list().map(artifactInfo),
    }));

    scope.post(
      '/v1/artifacts/import',
      { config: { auth: 'operator', action: 'artifact.import' }, schema: { response: { 200: ArtifactImportResponseSchema } } },
      async (request, reply) => {
        request.audit.target = 'bundle';
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (declared > mirror.maxBundleBytes) {
          return sendFailure(request, reply, new LimitExceededError(`failed to import bundle: ${declared} bytes is larger than the limit of ${mirror.maxBundleBytes} bytes`));
        }
        const body = request.body as NodeJS.ReadableStream | undefined;
        if (body === undefined || body === null || typeof body.pipe !== 'function') {
          throw new BallastError('BALLAST_ERR_VALIDATION', `failed to import bundle: send the tarball as the body with Content-Type ${BUNDLE_TYPES[0]}`);
        }
        try {
          // Only an admin may import what the built-in catalogue does not pin (issue 16).
          const result = importResponse(await mirror.importBundle(body, { trust: { admin: request.operator?.role === 'admin' } }));
          request.audit.target = result.items.map((i) => artifactLabel(i.artifact)).join(', ').slice(0, 500);
          request.audit.detail = `${result.added} added, ${result.unchanged} unchanged`;
          return result;
        } catch (err) {
          return sendFailure(request, reply, err);
        }
      },
    );

    scope.post<{ Body: ArtifactFetchRequest }>(
      '/v1/artifacts/fetch',
      {
        config: { auth: 'operator', action: 'artifact.fetch' },
        schema: { body: ArtifactFetchRequestSchema, response: { 200: ArtifactImportResponseSchema } },
      },
      async (request, reply) => {
        request.audit.target = request.body.catalogue === undefined ? 'built-in catalogue' : 'catalogue from request';
        try {
          const result = importResponse(await mirror.fetch(request.body.catalogue));
          request.audit.detail = `${result.added} added, ${result.unchanged} unchanged`;
          return result;
        } catch (err) {
          return sendFailure(request, reply, err);
        }
      },
    );

    scope.get<{ Params: { name: string; version: string; arch: string } }>(
      '/v1/artifacts/files/:name/:version/:arch',
      // auth 'none' for the bearer hook: this route accepts a host certificate too, checked below.
      { config: { auth: 'none' }, schema: { params: RefParams } },
      async (request, reply) => {
        authorizeDownload(request, deps);
        const found = mirror.locate(request.params);
        if (found === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `artifact ${artifactLabel(request.params)} is not in the mirror`);
        const size = await stat(found.path).then(
          (s) => s.size,
          () => null,
        );
        if (size !== found.record.size) {
          throw new BallastError('BALLAST_ERR_NOT_FOUND', `artifact ${artifactLabel(request.params)} is listed but its file is missing or damaged in the mirror; import it again`);
        }
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', String(size))
          .header(ARTIFACT_SHA256_HEADER, found.record.sha256)
          .header('content-disposition', `attachment; filename="${found.record.file}"`)
          .send(createReadStream(found.path));
      },
    );
  });
}

/**
 * Downloads need an enrolled, non-revoked host's client certificate (verified by TLS against our CA,
 * then checked like the agent hub does) or an operator bearer token of any role.
 */
function authorizeDownload(request: FastifyRequest, deps: { store: Store; auth: HubAuthPort }): void {
  const tls = request.raw.socket as TLSSocket;
  const peer = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
  if (tls.authorized === true && peer !== undefined && peer !== null && Object.keys(peer).length > 0) {
    const who = deps.auth.identify({ commonName: String(peer.subject?.CN ?? ''), serial: peer.serialNumber });
    if (!who.ok) throw new BallastError(who.error.code, who.error.message);
    return;
  }
  const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
  if (match !== null) {
    if (deps.store.operators.findByToken(match[1] as string) === null) {
      throw new BallastError('BALLAST_ERR_UNAUTHENTICATED', 'unknown or revoked operator token');
    }
    return;
  }
  throw new BallastError(
    'BALLAST_ERR_UNAUTHENTICATED',
    'artifact downloads need an enrolled host client certificate (mTLS) or an operator bearer token',
  );
}
