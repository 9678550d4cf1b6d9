/**
 * The self-fence's etcd quorum probe (self-fence.ts): a linearizable read through this host's own
 * member. etcd serves a linearizable read only after confirming with a majority that its leader is
 * still the leader (ReadIndex), so it fails on the minority side of a partition and on a member
 * that lost its peers — exactly "this host has no etcd quorum". A serializable read or a status
 * call would still answer from a cut-off member.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BallastError } from '../../../shared/src/errors.js';
import { createEtcdClient } from './client.js';
import { ETCD_ENV_PATH, loadMemberConfig } from './member-config.js';

/** The key read (absent is fine: the read proves quorum, not the key). */
const PROBE_KEY = Buffer.from('/ballast/self-fence-probe').toString('base64');

/**
 * Resolves true when quorum was proven, rejects when not (any failure within `timeoutMs`), null
 * when this host has no etcd member (no /etc/etcd/etcd.env): self-fencing does not apply to it.
 */
export function createEtcdQuorumProbe(opts: { root: string; timeoutMs?: number }): () => Promise<true | null> {
  return async () => {
    try {
      await access(join(opts.root, ETCD_ENV_PATH));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new BallastError('BALLAST_ERR_CONFIG', `failed to read ${ETCD_ENV_PATH}: ${(err as Error).message}`, { cause: err });
    }
    // A rejection means "not proven" (the self-fence logs it).
    const cfg = await loadMemberConfig(opts.root);
    const [ca, cert, key] = await Promise.all([readFile(cfg.caFile, 'utf8'), readFile(cfg.certFile, 'utf8'), readFile(cfg.keyFile, 'utf8')]);
    const timeoutMs = opts.timeoutMs ?? 3000;
    const client = createEtcdClient({ endpoints: [cfg.endpoint], tls: { ca, cert, key }, timeoutMs });
    await client.post('/v3/kv/range', { key: PROBE_KEY, limit: 1, serializable: false, keys_only: true }, { timeoutMs, idempotent: true });
    return true;
  };
}
