import { afterEach, describe, expect, it } from 'vitest';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { authorizeSnapshotDownload } from './download.js';
import { type RecoverFixture, recoverFixture } from './testing.js';

describe('snapshot download for recovering agents', () => {
  let fx: RecoverFixture;
  afterEach(async () => fx.cleanup());

  it('only an etcd host of the cluster, only that snapshot, only while the recovery runs; never to an operator token', async () => {
    fx = await recoverFixture();
    const snap = await fx.addSnapshot('snap-1', Buffer.from('bytes '.repeat(20)));
    await fx.addSnapshot('snap-2', Buffer.from('other '.repeat(20)));
    const auth = (host: string, id = 'snap-1') => () => authorizeSnapshotDownload({ repo: fx.store.membership, ops: fx.engine }, { cluster: 'lab', id, host });
    expect(auth('h1')).toThrow(/no running recovery of cluster lab restores it onto h1/);
    fx.fleet.loseQuorum(['h2', 'h3']);
    fx.fleet.hang.add('etcd-restore/h1');
    const r = await fx.call('POST', '/v1/clusters/lab/recover', { fromSnapshot: 'snap-1' });
    const { id } = r.json<OperationDocument>();
    const deadline = Date.now() + 10_000;
    while (fx.engine.get(id).current?.key !== 'etcd/restore') {
      if (Date.now() > deadline) throw new Error('never reached the restore');
      await new Promise((res) => setTimeout(res, 5));
    }
    expect(auth('h2')()).toBe(snap.sha256);
    expect(auth('w1')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_FORBIDDEN' }));
    expect(auth('h2', 'snap-2')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_FORBIDDEN' }));
    // The route itself takes agents' certificates only: an operator's token is not enough.
    const asOperator = await fx.call('GET', '/v1/agent/etcd-snapshots/lab/snap-1');
    expect(asOperator.statusCode).toBe(401);
    await fx.engine.abort(id, 'test');
    expect(auth('h2')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_FORBIDDEN' }));
  });
});
