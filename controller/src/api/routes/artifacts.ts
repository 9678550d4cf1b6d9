import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
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
import type { ArtifactRecord } from '../../artifacts/artifact-repo.js';
import { ArtifactMirror, type MirrorChange } from '../../artifacts/mirror.js';
import type { TrustReport } from '../../artifacts/trust.js';
import type { UpstreamPolicy } from '../../artifacts/upstream.js';
import type { TrustKey } from '../../../../shared/src/artifacts-signature.js';
import type { Store } from '../../store/store.js';
import type { Logger } from 'pino';

/** What the composition root passes to enable the artifact routes (AppDeps.artifacts). */
export interface ArtifactRoutesOptions {
  /** `<data dir>/artifacts`. */
  mirrorDir: string;
  /** Largest accepted bundle (default 2 GiB). */
  maxBundleBytes?: number;
  /** Catalogue used by fetch without a body catalogue (default: the built-in one). */
  catalogue?: Catalogue;
  downloadTimeoutMs?: number;
  /** Where fetch may download from: the controller's `--artifact-upstream` hosts (default: the built-in list). */
  upstream?: UpstreamPolicy;
  /** The controller's `--artifact-trust-key`s: an admin's bundle of unpinned artifacts must be signed by one (trust.ts). */
  trustKeys?: readonly TrustKey[];
}

/**
 * Read size for serving mirror files: 1 MiB reads instead of the default 64 KiB halve the
 * controller's CPU per byte served over TLS (measured on node 22: ~2.1 → ~1.1 CPU-s per GB; a
 * cluster create serves ~2.5 GB). Backpressure keeps at most about this much buffered per download.
 */
const SERVE_CHUNK_BYTES = 1024 * 1024;
const BUNDLE_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-gzip', 'application/x-tar'];

const RefParams = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' }),
  version: Type.String({ pattern: '^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,63}$' }),
  arch: Type.String({ pattern: '^[a-z0-9_]{1,16}$' }),
});

/** An artifact record as the API shows it. */
export function artifactInfo(r: ArtifactRecord): ArtifactInfo {
  return { name: r.name, version: r.version, os: r.os, arch: r.arch, sha256: r.sha256, size: r.size, url: r.url, file: r.file, importedAt: new Date(r.importedAt).toISOString(), ...(r.image === undefined ? {} : { image: r.image }) };
}

function importResponse(changes: readonly MirrorChange[]): ArtifactImportResponse {
  return {
    added: changes.filter((c) => c.status === 'added').length,
    unchanged: changes.filter((c) => c.status === 'unchanged').length,
    items: changes.map((c) => ({ status: c.status, artifact: artifactInfo(c.record) })),
  };
}

/**
 * Runs an import and notes a coded failure's message for the audit log before it goes on to the
 * app's error handler (which answers with the code's status from the error table).
 */
async function audited<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof BallastError) request.audit.detail = err.message.slice(0, 1000);
    throw err;
  }
}

/**
 * The artifact mirror's API (shared/src/artifacts-api.ts), as a fastify plugin: its own scope, so
 * the streaming tarball parser applies to these routes only.
 */
export async function artifactRoutes(scope: FastifyInstance, deps: ArtifactRoutesOptions & { store: Store; log: Logger }): Promise<void> {
  const mirror = new ArtifactMirror({
    dir: deps.mirrorDir,
    repo: deps.store.artifacts,
    log: deps.log.child({ component: 'artifacts' }),
    maxBundleBytes: deps.maxBundleBytes,
    catalogue: deps.catalogue,
    downloadTimeoutMs: deps.downloadTimeoutMs,
    upstream: deps.upstream,
  });

  // Hand the raw request stream to the handler: the mirror streams it to disk under its own bound.
  scope.addContentTypeParser(BUNDLE_TYPES, { bodyLimit: mirror.maxBundleBytes }, (_req, payload, done) => done(null, payload));

  scope.get('/v1/artifacts', { config: { auth: 'viewer' }, schema: { response: { 200: ArtifactListResponseSchema } } }, async () => ({
    items: mirror.list().map(artifactInfo),
  }));

  scope.post(
    '/v1/artifacts/import',
    { config: { auth: 'operator', action: 'artifact.import' }, schema: { response: { 200: ArtifactImportResponseSchema } } },
    async (request) => {
      request.audit.target = 'bundle';
      return audited(request, async () => {
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (declared > mirror.maxBundleBytes) {
          throw new LimitExceededError(`failed to import bundle: ${declared} bytes is larger than the limit of ${mirror.maxBundleBytes} bytes`);
        }
        const body = request.body as NodeJS.ReadableStream | undefined;
        if (body === undefined || body === null || typeof body.pipe !== 'function') {
          throw new BallastError('BALLAST_ERR_VALIDATION', `failed to import bundle: send the tarball as the body with Content-Type ${BUNDLE_TYPES[0]}`);
        }
        // Only an admin may import what the built-in catalogue does not pin, and only signed by a trusted key (issue 16).
        const trust = { admin: request.operator?.role === 'admin', keys: deps.trustKeys ?? [] };
        let signedBy = '';
        const onTrusted = (r: TrustReport) => {
          if (r.signedBy !== null) signedBy = `; signed by key ${r.signedBy.id}`;
        };
        const result = importResponse(await mirror.importBundle(body, { trust, onTrusted }));
        request.audit.target = result.items.map((i) => artifactLabel(i.artifact)).join(', ').slice(0, 500);
        request.audit.detail = `${result.added} added, ${result.unchanged} unchanged${signedBy}`;
        return result;
      });
    },
  );

  scope.post<{ Body: ArtifactFetchRequest }>(
    '/v1/artifacts/fetch',
    {
      // Admin only (issue 16 point 10): fetching makes the controller connect out and files what it
      // got as trusted; an operator cannot choose what lands on hosts, and fetch would let them.
      config: { auth: 'admin', action: 'artifact.fetch' },
      schema: { body: ArtifactFetchRequestSchema, response: { 200: ArtifactImportResponseSchema } },
    },
    async (request) => {
      request.audit.target = request.body.catalogue === undefined ? 'built-in catalogue' : 'catalogue from request';
      return audited(request, async () => {
        const result = importResponse(await mirror.fetch(request.body.catalogue));
        request.audit.detail = `${result.added} added, ${result.unchanged} unchanged`;
        return result;
      });
    },
  );

  scope.get<{ Params: { name: string; version: string; arch: string } }>(
    '/v1/artifacts/files/:name/:version/:arch',
    // Agents fetch with their host certificate; operators (any role) with their token.
    { config: { auth: ['host', 'viewer'] }, schema: { params: RefParams } },
    async (request, reply) => {
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
        .send(createReadStream(found.path, { highWaterMark: SERVE_CHUNK_BYTES }));
    },
  );
}
