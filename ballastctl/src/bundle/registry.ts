/**
 * A pull-only client of the OCI distribution API (the HTTP API of registry.k8s.io, Docker Hub and
 * `docker-registry`): anonymous bearer tokens (a 401 with `WWW-Authenticate: Bearer realm=…,
 * service=…, scope=…` is answered by GETting a token from the realm), manifest lists / OCI indexes
 * resolved to one platform, and blobs verified against their digest while they stream to disk.
 * Every answer is bounded in size and validated with a schema before it is used.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { BallastError, isBallastError } from '../../../shared/src/errors.js';
import type { HttpGetResponse } from '../../../shared/src/http-get.js';
import { type DownloadProgress, downloadVerified } from '../../../shared/src/verified-download.js';
import type { ImageRef } from './image-ref.js';

/** Largest manifest, index or token answer read (the distribution spec's 4 MiB manifest limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest single blob (layer or config) pulled. */
export const MAX_BLOB_BYTES = 2 * 1024 ** 3;

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];

const Digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });
const DescriptorSchema = Type.Object({
  mediaType: Type.String({ maxLength: 256 }),
  digest: Digest,
  size: Type.Integer({ minimum: 0, maximum: MAX_BLOB_BYTES }),
  platform: Type.Optional(Type.Object({ architecture: Type.String({ maxLength: 64 }), os: Type.String({ maxLength: 64 }), variant: Type.Optional(Type.String({ maxLength: 64 })) })),
});
/** A content descriptor: what a manifest says about a blob or another manifest. */
export type Descriptor = Static<typeof DescriptorSchema>;
const IndexSchema = Type.Object({ schemaVersion: Type.Literal(2), manifests: Type.Array(DescriptorSchema, { maxItems: 1000 }) });
const ManifestSchema = Type.Object({ schemaVersion: Type.Literal(2), config: DescriptorSchema, layers: Type.Array(DescriptorSchema, { minItems: 1, maxItems: 512 }) });
/** An image manifest: one config blob and its layers. */
export type ImageManifest = Static<typeof ManifestSchema>;
const TokenSchema = Type.Object({ token: Type.Optional(Type.String({ maxLength: 65536 })), access_token: Type.Optional(Type.String({ maxLength: 65536 })) });
const checkIndex = TypeCompiler.Compile(IndexSchema);
const checkManifest = TypeCompiler.Compile(ManifestSchema);
const checkToken = TypeCompiler.Compile(TokenSchema);

/** How the client reaches the network: a policy-checked GET (the CLI's fetcher). */
export type RegistryGet = (
  url: string,
  opts: { signal: AbortSignal; what: string; headers: Record<string, string>; authorization?: (url: URL) => string | undefined },
) => Promise<HttpGetResponse>;

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions {
  get: RegistryGet;
  /** Registries (host:port) spoken to over plain http: loopback ones named by --insecure-registry. */
  insecure: ReadonlySet<string>;
  /** Per-request time limit (a blob gets this long to finish). */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A resolved image: its manifest, where it came from, and the manifest's own digest. */
export interface ResolvedImage {
  manifest: ImageManifest;
  /** `sha256:` digest of the platform manifest. */
  digest: string;
  /** The URL of the platform manifest by digest (the bundle entry's provenance `url`). */
  url: string;
}

/** See the module comment. One instance per run: it caches tokens per registry and repository. */
export class RegistryClient {
  readonly #opts: RegistryClientOptions;
  readonly #tokens = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    this.#opts = opts;
  }

  /** The manifest of `ref` for linux/`arch`, following an index or manifest list. */
  async resolve(ref: ImageRef, arch: string): Promise<ResolvedImage> {
    const top = await this.#manifest(ref, ref.digest ?? ref.tag);
    let chosen = top;
    if (top.kind === 'index') {
      const match = top.index.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch && MANIFEST_TYPES.includes(m.mediaType));
      if (match === undefined) {
        const offered = top.index.manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`).join(', ');
        throw this.#refused(ref, `it has no linux/${arch} image (the index offers ${offered || 'nothing'})`);
      }
      chosen = await this.#manifest(ref, match.digest);
      if (chosen.kind !== 'manifest') throw this.#refused(ref, `the linux/${arch} entry ${match.digest} is not an image manifest`);
    }
    if (chosen.kind !== 'manifest') throw this.#refused(ref, 'the manifest is neither an image manifest nor an index');
    return { manifest: chosen.manifest, digest: chosen.digest, url: this.#url(ref, `manifests/${chosen.digest}`) };
  }

  /** Streams the blob `desc` to `dest` (a new file), verified by digest and size; throws BALLAST_ERR_CHECKSUM_MISMATCH otherwise. */
  async blob(ref: ImageRef, desc: Descriptor, dest: string, onProgress?: (p: DownloadProgress) => void): Promise<void> {
    const url = this.#url(ref, `blobs/${desc.digest}`);
    const what = `blob ${desc.digest.slice(0, 19)}… of image ${ref.canonical}`;
    const { size } = await downloadVerified({
      what,
      url,
      sha256: desc.digest.slice('sha256:'.length),
      dest,
      timeoutMs: this.#opts.timeoutMs,
      maxBytes: desc.size,
      open: (signal) => this.#open(ref, url, { signal, what, accept: '*/*' }),
      outcome: 'no bundle was written',
      ...(this.#opts.signal === undefined ? {} : { signal: this.#opts.signal }),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    if (size !== desc.size) throw new BallastError('BALLAST_ERR_CHECKSUM_MISMATCH', `failed to fetch ${what} from ${url}: ${size} bytes, the manifest says ${desc.size}; no bundle was written`);
  }

  #url(ref: ImageRef, path: string): string {
    return `${this.#opts.insecure.has(ref.registry) ? 'http' : 'https'}://${ref.registry}/v2/${ref.repository}/${path}`;
  }

  #refused(ref: ImageRef, why: string, cause?: unknown): BallastError {
    return new BallastError('BALLAST_ERR_REGISTRY', `failed to pull image ${ref.canonical}: ${why}`, { cause });
  }

  /** GETs a manifest by tag or digest, checks a digest reference against the bytes, and decodes it. */
  async #manifest(
    ref: ImageRef,
    reference: string,
  ): Promise<{ kind: 'index'; index: Static<typeof IndexSchema>; digest: string } | { kind: 'manifest'; manifest: ImageManifest; digest: string }> {
    const url = this.#url(ref, `manifests/${reference}`);
    const signal = this.#signal();
    const res = await this.#open(ref, url, { signal, what: `manifest of image ${ref.canonical}`, accept: [...INDEX_TYPES, ...MANIFEST_TYPES].join(', ') });
    if (res.status !== 200) {
      res.body.destroy();
      throw this.#refused(ref, `GET ${url} answered HTTP ${res.status} ${res.statusText}`.trim());
    }
    const bytes = await readBounded(res.body, MAX_MANIFEST_BYTES, () => this.#refused(ref, `the manifest at ${url} is larger than ${MAX_MANIFEST_BYTES} bytes`));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new BallastError('BALLAST_ERR_CHECKSUM_MISMATCH', `failed to pull image ${ref.canonical}: the manifest at ${url} does not match its digest; no bundle was written`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      throw this.#refused(ref, `the manifest at ${url} is not JSON`, err);
    }
    const declared = (doc as { mediaType?: unknown }).mediaType;
    const type = typeof declared === 'string' ? declared : (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (INDEX_TYPES.includes(type) || (type === '' && checkIndex.Check(doc))) {
      if (!checkIndex.Check(doc)) throw this.#refused(ref, `the index at ${url} does not match the OCI schema: ${firstError(checkIndex.Errors(doc))}`);
      return { kind: 'index', index: doc, digest };
    }
    if (!MANIFEST_TYPES.includes(type) && type !== '') throw this.#refused(ref, `unsupported manifest media type "${type}" at ${url} (schema 1 and others are not pulled)`);
    if (!checkManifest.Check(doc)) throw this.#refused(ref, `the manifest at ${url} does not match the OCI schema: ${firstError(checkManifest.Errors(doc))}`);
    return { kind: 'manifest', manifest: doc, digest };
  }

  #signal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.#opts.timeoutMs);
    return this.#opts.signal === undefined ? timeout : AbortSignal.any([this.#opts.signal, timeout]);
  }

  /**
   * A GET with the tokens this run holds; a 401 with a Bearer challenge fetches one (anonymously)
   * for the origin that challenged — after a redirect that is the registry's backend, not the
   * name in the reference — and retries once.
   */
  async #open(ref: ImageRef, url: string, o: { signal: AbortSignal; what: string; accept: string }): Promise<HttpGetResponse> {
    const key = (origin: string) => `${origin} ${ref.repository}`;
    const request = () =>
      this.#get(url, {
        signal: o.signal,
        what: o.what,
        headers: { accept: o.accept },
        authorization: (target) => {
          const token = this.#tokens.get(key(target.origin));
          return token === undefined ? undefined : `Bearer ${token}`;
        },
      });
    const first = await request();
    if (first.status !== 401) return first;
    first.body.destroy();
    const challenged = key(new URL(first.url).origin);
    if (this.#tokens.has(challenged)) throw this.#refused(ref, `${first.url} refused the anonymous token (HTTP 401); pulling needs credentials, which ballastctl does not support`);
    const challenge = String(first.headers['www-authenticate'] ?? '');
    this.#tokens.set(challenged, await this.#token(ref, challenge, o.signal));
    const second = await request();
    if (second.status === 401) {
      second.body.destroy();
      throw this.#refused(ref, `${second.url} refused the anonymous token (HTTP 401); pulling needs credentials, which ballastctl does not support`);
    }
    return second;
  }

  /** The fetcher, with socket errors (ECONNREFUSED, aborts …) turned into BALLAST_ERR_CONNECT naming the URL. */
  async #get(
    url: string,
    o: { signal: AbortSignal; what: string; headers: Record<string, string>; authorization?: (url: URL) => string | undefined },
  ): Promise<HttpGetResponse> {
    try {
      return await this.#opts.get(url, o);
    } catch (err) {
      if (isBallastError(err)) throw err;
      const code = (err as { code?: unknown }).code;
      const why = o.signal.aborted && !(this.#opts.signal?.aborted ?? false) ? `no answer within ${this.#opts.timeoutMs} ms` : `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`;
      throw new BallastError('BALLAST_ERR_CONNECT', `failed to fetch ${o.what} from ${url}: ${why}`, { cause: err });
    }
  }

  async #token(ref: ImageRef, challenge: string, signal: AbortSignal): Promise<string> {
    if (!/^bearer\s/i.test(challenge)) {
      throw this.#refused(ref, `the registry asks for credentials (WWW-Authenticate: ${challenge.slice(0, 80) || 'none'}); only anonymous pulls are supported`);
    }
    const params = new Map<string, string>();
    for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params.set(m[1]!.toLowerCase(), m[2]!);
    const realm = params.get('realm');
    if (realm === undefined) throw this.#refused(ref, 'the Bearer challenge names no realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch (err) {
      throw this.#refused(ref, `the Bearer realm "${realm}" is not a URL`, err);
    }
    const service = params.get('service');
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.set('scope', params.get('scope') ?? `repository:${ref.repository}:pull`);
    const res = await this.#get(url.href, { signal, what: `a pull token for image ${ref.canonical}`, headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      res.body.destroy();
      throw this.#refused(ref, `the token service ${url.origin}${url.pathname} answered HTTP ${res.status}`);
    }
    const bytes = await readBounded(res.body, MAX_MANIFEST_BYTES, () => this.#refused(ref, 'the token answer is too large'));
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      throw this.#refused(ref, 'the token answer is not JSON', err);
    }
    const token = checkToken.Check(doc) ? (doc.token ?? doc.access_token) : undefined;
    if (token === undefined || token === '') throw this.#refused(ref, 'the token answer carries no token');
    return token;
  }
}

function firstError(errors: Iterable<{ path: string; message: string }>): string {
  for (const e of errors) return `${e.path || '/'}: ${e.message}`;
  return 'unknown problem';
}

/** Reads a whole body, refusing (and destroying it) past `max` bytes. */
async function readBounded(body: IncomingMessage, max: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > max) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    body.destroy();
    if (isBallastError(err)) throw err;
    throw new BallastError('BALLAST_ERR_CONNECT', `failed to read a registry answer: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.concat(chunks);
}
