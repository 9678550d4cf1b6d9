/**
 * The agent's {@link ArtifactSource}: downloads from the controller's mirror over mTLS with the
 * agent's own client certificate, trusting only the pinned controller CA. Agents never reach the
 * internet; the controller refuses hosts that are not enrolled or were removed.
 */
import https, { type Agent, request } from 'node:https';
import { artifactFilePath, artifactLabel } from '../../shared/src/artifacts-api.js';
import { BallastError, type ErrorCode } from '../../shared/src/errors.js';
import type { AgentCredentials } from './config.js';
import type { ArtifactSource, SnapshotRef, SnapshotSource } from './tasks/module.js';

/** Options of {@link createArtifactSource}. */
export interface ArtifactSourceOptions {
  /** The controller URL, e.g. `https://10.0.0.1:9443` (agent.yaml `server`). */
  server: string;
  credentials: Pick<AgentCredentials, 'keyPem' | 'certPem' | 'caPem'>;
  /** A socket idle this long (connecting, or mid-download) fails the download; default 60 s. */
  idleTimeoutMs?: number;
}

/** An artifact source that owns a connection pool; `close()` releases it. */
export interface ClosableArtifactSource extends ArtifactSource, SnapshotSource {
  close(): void;
}

/** Longest error body read from the controller. */
const MAX_ERROR_BODY = 64 * 1024;

/** Creates the mTLS artifact source (see the module comment). */
export function createArtifactSource(opts: ArtifactSourceOptions): ClosableArtifactSource {
  const base = new URL(opts.server);
  const idle = opts.idleTimeoutMs ?? 60_000;
  const agent: Agent = new https.Agent({
    keepAlive: true,
    maxSockets: 2,
    key: opts.credentials.keyPem,
    cert: opts.credentials.certPem,
    ca: opts.credentials.caPem,
    minVersion: 'TLSv1.2',
  });
  return {
    open: (ref) => open(base, agent, idle, artifactFilePath(ref), `artifact ${artifactLabel(ref)}`),
    // Same transport and rules for etcd snapshots (disaster recovery): the controller serves a
    // snapshot only to a host of that cluster while a recovery of it runs; the caller verifies it.
    openSnapshot: (ref) => open(base, agent, idle, snapshotFilePath(ref), `etcd snapshot ${ref.id} of cluster ${ref.cluster}`),
    close: () => agent.destroy(),
  };
}

/** The controller's download path of a snapshot for a recovering agent. */
export function snapshotFilePath(ref: SnapshotRef): string {
  return `/v1/agent/etcd-snapshots/${encodeURIComponent(ref.cluster)}/${encodeURIComponent(ref.id)}`;
}

function open(base: URL, agent: Agent, idleMs: number, path: string, label: string): ReturnType<ArtifactSource['open']> {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  const what = `${label} from ${url.origin}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent, headers: { accept: 'application/octet-stream' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 200) {
        const length = Number(res.headers['content-length']);
        resolve({ stream: res, size: Number.isSafeInteger(length) && length >= 0 ? length : null });
        return;
      }
      readError(res).then(
        (body) => reject(new BallastError(body.code, `failed to fetch ${what}: controller answered HTTP ${status}: ${body.message}`)),
        (err: unknown) => reject(err),
      );
    });
    // Covers connecting and every pause mid-body: a stalled download fails instead of hanging a task.
    req.setTimeout(idleMs, () => req.destroy(new BallastError('BALLAST_ERR_CONNECT', `failed to fetch ${what}: no data for ${idleMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof BallastError) return reject(err);
      const tls = /certificate|self.signed|altname|SSL|TLS/i.test(`${err.code ?? ''} ${err.message}`);
      const why = err.code === undefined || err.message.includes(err.code) ? err.message : `${err.code} (${err.message})`;
      reject(new BallastError(tls ? 'BALLAST_ERR_TLS' : 'BALLAST_ERR_CONNECT', `failed to fetch ${what}: ${why}`, { cause: err }));
    });
    req.end();
  });
}

/** The controller's coded error body, bounded; anything else becomes BALLAST_ERR_CONNECT. */
function readError(res: NodeJS.ReadableStream): Promise<{ code: ErrorCode; message: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (text.length < MAX_ERROR_BODY) text += chunk;
    });
    res.on('error', reject);
    res.on('end', () => {
      try {
        const body = JSON.parse(text) as { code?: unknown; message?: unknown };
        const code = typeof body.code === 'string' && body.code.startsWith('BALLAST_ERR_') ? (body.code as ErrorCode) : 'BALLAST_ERR_CONNECT';
        resolve({ code, message: typeof body.message === 'string' ? body.message : text.slice(0, 200) });
      } catch {
        resolve({ code: 'BALLAST_ERR_CONNECT', message: text.slice(0, 200) || 'no message' });
      }
    });
  });
}
