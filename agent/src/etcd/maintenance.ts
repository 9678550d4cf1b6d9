/**
 * The agent's side of `req.etcd` (shared/src/protocol/etcd.ts): snapshot, status and defrag of this
 * host's own etcd member, with its own certificates (member-config.ts). The snapshot is taken with
 * `etcdctl snapshot save` (fixed argv, built here) into a private temporary directory, streamed to
 * the controller's upload slot while etcdctl writes it (snapshot-stream.ts) with a sha256 computed
 * on the way and a size bound, measured with `etcdutl snapshot status`, and deleted whatever happens.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { EtcdMemberStatus, EtcdRequest, EtcdSnapshotResult } from '../../../shared/src/protocol/etcd.js';
import type { ResponseOf } from '../../../shared/src/protocol/responses.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { AgentCredentials } from '../config.js';
import { createEtcdClient, type EtcdClient } from './client.js';
import { loadMemberConfig, type MemberConfig } from './member-config.js';
import { startCommand, tailFile, uploadSnapshot } from './snapshot-stream.js';

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
        const save = startCommand(cfg.etcdctl, [...tls, '--command-timeout', `${Math.max(10, Math.floor(req.timeoutMs / 1000))}s`, 'snapshot', 'save', file], req.timeoutMs);
        // The upload reads the file while etcdctl writes it (snapshot-stream.ts); the status read starts once it is saved.
        const target = { server: opts.creds.config.server, caPem: opts.creds.caPem, certPem: opts.creds.certPem, keyPem: opts.creds.keyPem };
        const uploaded = uploadSnapshot(target, req.uploadId, tailFile({ partPath: `${file}.part`, finalPath: file, writer: save }), req.maxBytes);
        const measured = save.done.then(async () => ({ saveMs: performance.now() - t0, out: await run(cfg.etcdutl ?? cfg.etcdctl ?? '', ['snapshot', 'status', file, '-w', 'json'], 120_000) }));
        // Both settle before the directory is removed, whichever fails first.
        const [up, st] = await Promise.allSettled([uploaded, measured]);
        if (st.status === 'rejected') throw st.reason;
        if (up.status === 'rejected') throw up.reason;
        const size = (await stat(file)).size;
        if (size !== up.value.size) throw new BallastError('BALLAST_ERR_CHECKSUM_MISMATCH', `failed to upload the etcd snapshot: ${up.value.size} bytes were sent, the saved file has ${size}`);
        const parsed: unknown = JSON.parse(st.value.out.trim().split('\n').pop() ?? '');
        if (!compiledCheck(SnapshotStatusSchema).Check(parsed)) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', 'failed to read the snapshot status: unexpected etcdctl output');
        return { member: cfg.name, sha256: up.value.sha256, size, revision: String(parsed.revision), totalKeys: parsed.totalKey, hash: String(parsed.hash), saveMs: st.value.saveMs };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
