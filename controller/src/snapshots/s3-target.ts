/**
 * The optional off-host copy: an S3-compatible bucket (`@aws-sdk/client-s3`), configured with
 * `--snapshot-s3 FILE` (JSON: endpoint, region, bucket, prefix, forcePathStyle, credentialsFile).
 * Credentials never sit in the cluster spec: they come from `credentialsFile` (JSON
 * `{ "accessKeyId", "secretAccessKey" }`, 0600) or, when absent, from the SDK's usual environment
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY …).
 *
 * Objects per snapshot, under `<prefix><cluster>/`: `<id>.bsnap` (the sealed bundle as stored
 * locally: still encrypted, the key does not go to the bucket) and `<id>.json` (its record, no
 * secrets), so a controller rebuilt from nothing can list what the bucket holds. Retention applies
 * the store's rule to the bucket's objects. Single PUTs: S3's 5 GiB object limit bounds a bundle.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { SnapshotRecord } from '../store/snapshots.js';
import { boundedBytes } from './bounded-bytes.js';

const TargetSchema = Type.Object(
  {
    /** e.g. `https://s3.example.net`; absent = AWS. */
    endpoint: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 512 })),
    region: Type.String({ minLength: 1, maxLength: 64, default: 'us-east-1' }),
    bucket: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' }),
    /** Key prefix, e.g. `ballast/` (empty: the bucket root). */
    prefix: Type.String({ pattern: '^([A-Za-z0-9._-]+/)*$', maxLength: 256, default: '' }),
    /** Path-style URLs (MinIO, moto, Ceph RGW): default true when an endpoint is given. */
    forcePathStyle: Type.Optional(Type.Boolean()),
    credentialsFile: Type.Optional(Type.String({ pattern: '^/[^\\0]+$', maxLength: 1024 })),
  },
  { additionalProperties: false },
);
const CredentialsSchema = Type.Object({ accessKeyId: Type.String({ minLength: 1, maxLength: 256 }), secretAccessKey: Type.String({ minLength: 1, maxLength: 256 }) });

/** The S3 target's configuration (the `--snapshot-s3` file). */
export interface S3TargetConfig {
  endpoint?: string;
  region: string;
  bucket: string;
  prefix: string;
  forcePathStyle?: boolean;
  credentialsFile?: string;
}

/** One object pair in the bucket. */
export interface RemoteSnapshot {
  id: string;
  key: string;
  createdAt: number;
  /** The sealed bundle's size in bytes. */
  size: number;
}

/** Reads and checks the `--snapshot-s3` file; BALLAST_ERR_CONFIG naming the problem. */
export async function loadS3Config(path: string): Promise<S3TargetConfig> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to read the S3 target ${path}: ${messageOf(err)}`, { cause: err });
  }
  const withDefaults = { region: 'us-east-1', prefix: '', ...(typeof value === 'object' && value !== null ? value : {}) };
  const check = compiledCheck(TargetSchema);
  if (!check.Check(withDefaults)) {
    const first = check.Errors(withDefaults).First();
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to read the S3 target ${path}: ${first?.path || '/'} ${first?.message ?? 'invalid'}`);
  }
  return withDefaults;
}

/** The bucket, as the snapshot service uses it. */
export class S3Target {
  readonly config: S3TargetConfig;
  #client: S3Client | null = null;

  constructor(config: S3TargetConfig) {
    this.config = config;
  }

  private async client(): Promise<S3Client> {
    if (this.#client !== null) return this.#client;
    let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    if (this.config.credentialsFile !== undefined) {
      const parsed: unknown = JSON.parse(await readFile(this.config.credentialsFile, 'utf8'));
      if (!compiledCheck(CredentialsSchema).Check(parsed)) throw new BallastError('BALLAST_ERR_CONFIG', `failed to read S3 credentials ${this.config.credentialsFile}: want {"accessKeyId","secretAccessKey"}`);
      credentials = parsed;
    }
    this.#client = new S3Client({
      region: this.config.region,
      ...(this.config.endpoint === undefined ? {} : { endpoint: this.config.endpoint }),
      forcePathStyle: this.config.forcePathStyle ?? this.config.endpoint !== undefined,
      ...(credentials === undefined ? {} : { credentials }),
      maxAttempts: 3,
    });
    return this.#client;
  }

  private dir(cluster: string): string {
    return `${this.config.prefix}${cluster}/`;
  }

  /** Uploads the sealed bundle and its record; resolves with the bundle's key. */
  async put(record: SnapshotRecord, sealedPath: string): Promise<string> {
    const key = `${this.dir(record.cluster)}${record.id}.bsnap`;
    await this.call(`upload ${key}`, async (c) => {
      await c.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: key,
          Body: createReadStream(sealedPath),
          ContentLength: (await stat(sealedPath)).size,
          ContentType: 'application/octet-stream',
          Metadata: { sha256: record.sealedSha256 },
        }),
      );
      const { s3Key: _k, s3CopiedAt: _t, ...meta } = record;
      await c.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: `${this.dir(record.cluster)}${record.id}.json`, Body: JSON.stringify(meta), ContentType: 'application/json' }));
    });
    return key;
  }

  /** The snapshots of `cluster` in the bucket (from their `.bsnap` objects). */
  async list(cluster: string): Promise<RemoteSnapshot[]> {
    return this.call(`list ${this.dir(cluster)}`, async (c) => {
      const out: RemoteSnapshot[] = [];
      let token: string | undefined;
      do {
        const page = await c.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: this.dir(cluster), ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined || !o.Key.endsWith('.bsnap')) continue;
          out.push({ id: o.Key.slice(this.dir(cluster).length, -'.bsnap'.length), key: o.Key, createdAt: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 });
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return out;
    });
  }

  /** Deletes the objects of the given snapshot ids. */
  async delete(cluster: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.flatMap((id) => [`${this.dir(cluster)}${id}.bsnap`, `${this.dir(cluster)}${id}.json`]);
    await this.call(`delete ${ids.length} snapshots`, async (c) => {
      for (let i = 0; i < keys.length; i += 1000) {
        await c.send(new DeleteObjectsCommand({ Bucket: this.config.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
      }
    });
  }

  /** The sealed bundle's bytes (for tests and for rebuilding a lost controller's copy). */
  async get(key: string): Promise<Buffer> {
    return this.call(`download ${key}`, async (c) => {
      const res = await c.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
    });
  }

  /**
   * Streams `<prefix><cluster>/<id>.bsnap` into `path` (created 0600, must not exist), refusing an
   * object larger than `maxBytes` (BALLAST_ERR_TOO_LARGE) before and while it arrives; what was
   * written is removed on any failure. For importing a snapshot into a rebuilt controller.
   */
  async download(cluster: string, id: string, path: string, maxBytes: number): Promise<void> {
    const key = `${this.dir(cluster)}${id}.bsnap`;
    try {
      await this.call(`download ${key}`, async (c) => {
        const res = await c.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
        if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
          throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to download ${key}: ${res.ContentLength} bytes is more than the ${maxBytes} allowed`);
        }
        const body = res.Body;
        if (!(body instanceof Readable)) throw new BallastError('BALLAST_ERR_S3', `failed to download ${key}: the response has no body stream`);
        await pipeline(body, boundedBytes(maxBytes, `download ${key}`), createWriteStream(path, { mode: 0o600, flags: 'wx' }));
      });
    } catch (err) {
      await rm(path, { force: true });
      if (err instanceof BallastError && err.code === 'BALLAST_ERR_S3' && /NoSuchKey|not exist|404/i.test(err.message)) {
        throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find snapshot ${id} of cluster ${cluster} in bucket ${this.config.bucket} (${key}): ballastctl etcd snapshot list --remote --cluster ${cluster}`, { cause: err });
      }
      throw err;
    }
  }

  /** Closes the client's sockets. */
  close(): void {
    this.#client?.destroy();
    this.#client = null;
  }

  private async call<T>(what: string, fn: (c: S3Client) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.client());
    } catch (err) {
      if (err instanceof BallastError) throw err;
      throw new BallastError('BALLAST_ERR_S3', `failed to ${what} in bucket ${this.config.bucket}: ${messageOf(err)}`, { cause: err });
    }
  }
}
