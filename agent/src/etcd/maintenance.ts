/**
 * The agent's side of `req.etcd` (shared/src/protocol/etcd.ts): snapshot, status and defrag of this
 * host's own etcd member, with its own certificates (member-config.ts). The snapshot is taken with
 * `etcdctl snapshot save` (fixed argv, built here) into a private temporary directory, measured with
 * `etcdctl snapshot status`, streamed to the controller's upload slot with a sha256 computed on the
 * way and a size bound, and deleted whatever happens.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { type EtcdMemberStatus, type EtcdRequest, type EtcdSnapshotResult, snapshotUploadPath } from '../../../shared/src/protocol/etcd.js';
import type { ResponseOf } from '../../../shared/src/protocol/responses.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { AgentCredentials } from '../config.js';
import { createEtcdClient, type EtcdClient } from './client.js';
import { loadMemberConfig, type MemberConfig } from './member-config.js';

/** What the session calls; `answerEtcdRequest` dispatches to it. */
export interface EtcdMaintenancePort {
  snapshot(req: Extract<EtcdRequest, { action: 'snapshot' }>): Promise<EtcdSnapshotResult>;
  status(): Promise<EtcdMemberStatus>;
  defrag(): Promise<EtcdMemberStatus>;
}

/** Answers one `req.etcd`. */
export function answerEtcdRequest(req: EtcdRequest, port: EtcdMaintenancePort): Promise<ResponseOf<EtcdRequest>> {
  switch (req.action) {
    case 'snapshot':
      return port.snapshot(req);
    case 'status':
      return port.status();
    case 'defrag':
      return port.defrag();
  }
}

/** Options of {@link createEtcdMaintenance}. */
export interface EtcdMaintenanceOptions {
  /** '/' on a real host; tests point it at a directory tree. */
  root: string;
  creds: Pick<AgentCredentials, 'caPem' | 'certPem' | 'keyPem'> & { config: { server: string } };
}

const StatusSchema = Type.Object({
  header: Type.Object({ member_id: Type.Optional(Type.String()), revision: Type.Optional(Type.String()), raft_term: Type.Optional(Type.String()) }),
  version: Type.Optional(Type.String({ maxLength: 64 })),
  dbSize: Type.Optional(Type.String()),
  dbSizeInUse: Type.Optional(Type.String()),
  leader: Type.Optional(Type.String()),
  isLearner: Type.Optional(Type.Boolean()),
  errors: Type.Optional(Type.Array(Type.String({ maxLength: 512 }), { maxItems: 32 })),
});
const SnapshotStatusSchema = Type.Object({ hash: Type.Integer({ minimum: 0 }), revision: Type.Integer({ minimum: 0 }), totalKey: Type.Integer({ minimum: 0 }) });

function run(bin: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024, env: { PATH: '/usr/bin:/bin', ETCDCTL_API: '3' } }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      reject(new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to run etcdctl ${args.find((a) => !a.startsWith('-')) ?? ''}: ${messageOf(err)}${tail ? `: ${tail}` : ''}`, { cause: err }));
    });
  });
}

/** The production port. The member's configuration is read on every request (a role may have changed it). */
export function createEtcdMaintenance(opts: EtcdMaintenanceOptions): EtcdMaintenancePort {
  async function client(cfg: MemberConfig): Promise<EtcdClient> {
    const [ca, cert, key] = await Promise.all([readFile(cfg.caFile, 'utf8'), readFile(cfg.certFile, 'utf8'), readFile(cfg.keyFile, 'utf8')]);
    return createEtcdClient({ endpoints: [cfg.endpoint], tls: { ca, cert, key }, timeoutMs: 5000 });
  }
  async function status(cfg: MemberConfig): Promise<EtcdMemberStatus> {
    const answer = await (await client(cfg)).post('/v3/maintenance/status', {}, { idempotent: true });
    if (!compiledCheck(StatusSchema).Check(answer)) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to read the status of etcd member ${cfg.name}: unexpected answer`);
    return {
      member: cfg.name,
      memberId: answer.header.member_id ?? '0',
      leader: answer.leader ?? '0',
      version: answer.version ?? '',
      dbSize: Number(answer.dbSize ?? '0'),
      dbSizeInUse: Number(answer.dbSizeInUse ?? answer.dbSize ?? '0'),
      revision: answer.header.revision ?? '0',
      raftTerm: answer.header.raft_term ?? '0',
      isLearner: answer.isLearner ?? false,
      alarms: answer.errors ?? [],
    };
  }
  return {
    async status() {
      return status(await loadMemberConfig(opts.root));
    },
    async defrag() {
      const cfg = await loadMemberConfig(opts.root);
      // Defragmenting blocks the member for the duration: bounded generously, one member at a time (the controller orders them).
      await (await client(cfg)).post('/v3/maintenance/defragment', {}, { timeoutMs: 10 * 60_000 });
      return status(cfg);
    },
    async snapshot(req) {
      const cfg = await loadMemberConfig(opts.root);
      if (cfg.etcdctl === null) throw new BallastError('BALLAST_ERR_CONFIG', `failed to snapshot etcd member ${cfg.name}: etcdctl is not installed in /usr/local/bin or /usr/bin`);
      const dir = await mkdtemp(join(tmpdir(), 'ballast-etcd-snapshot-'));
      try {
        const file = join(dir, 'snapshot.db');
        const tls = ['--endpoints', cfg.endpoint, '--cacert', cfg.caFile, '--cert', cfg.certFile, '--key', cfg.keyFile];
        const t0 = performance.now();
        await run(cfg.etcdctl, [...tls, '--command-timeout', `${Math.max(10, Math.floor(req.timeoutMs / 1000))}s`, 'snapshot', 'save', file], req.timeoutMs);
        const saveMs = performance.now() - t0;
        const size = (await stat(file)).size;
        if (size > req.maxBytes) throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to upload the etcd snapshot: it is ${size} bytes, more than the ${req.maxBytes} accepted`);
        // The status read and the upload both only read the file: side by side, not one after the other.
        const [statusOut, sha256] = await Promise.all([run(cfg.etcdutl ?? cfg.etcdctl, ['snapshot', 'status', file, '-w', 'json'], 120_000), upload(opts, req.uploadId, file, size)]);
        const parsed: unknown = JSON.parse(statusOut.trim().split('\n').pop() ?? '');
        if (!compiledCheck(SnapshotStatusSchema).Check(parsed)) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', 'failed to read the snapshot status: unexpected etcdctl output');
        return { member: cfg.name, sha256, size, revision: String(parsed.revision), totalKeys: parsed.totalKey, hash: String(parsed.hash), saveMs };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** PUTs `file` to the controller's upload slot over the agent's mTLS identity; resolves with its sha256. */
function upload(opts: EtcdMaintenanceOptions, uploadId: string, file: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const url = new URL(snapshotUploadPath(uploadId), opts.creds.config.server);
    const req = request(
      url,
      { method: 'PUT', ca: opts.creds.caPem, cert: opts.creds.certPem, key: opts.creds.keyPem, headers: { 'content-type': 'application/octet-stream', 'content-length': size } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 4096) body += d;
        });
        res.on('end', () => {
          if (res.statusCode === 200) resolve(hash.digest('hex'));
          else reject(new BallastError('BALLAST_ERR_CONNECT', `failed to upload the etcd snapshot: the controller answered HTTP ${res.statusCode}: ${body.slice(0, 500)}`));
        });
      },
    );
    req.on('error', (err) => reject(new BallastError('BALLAST_ERR_CONNECT', `failed to upload the etcd snapshot: ${messageOf(err)}`, { cause: err })));
    const src = createReadStream(file);
    src.on('data', (chunk) => hash.update(chunk as Buffer));
    src.on('error', (err) => req.destroy(err));
    src.pipe(req);
  });
}
