import { afterEach, describe, expect, it } from 'vitest';
import { isBallastError } from '../../../shared/src/errors.js';
import { tempStores } from './testing.js';

describe('membership lock (real SQLite file, reopened as a restarted controller would)', () => {
  const stores = tempStores('ballast-membership-');
  afterEach(() => stores.cleanup());

  it('survives a restart: the holder re-acquires, another change is refused naming the holder, release frees it', () => {
    const path = stores.path();
    let clock = 1_700_000_000_000;
    const first = stores.open(path, () => clock);
    first.membership.acquire({ cluster: 'lab', operationId: 'op-1', kind: 'node.replace', detail: 'replace h1 with h4' });
    first.close(); // the controller dies
    clock += 60_000;
    const second = stores.open(path, () => clock);
    const held = second.membership.lock('lab');
    expect(held).toEqual({ cluster: 'lab', operationId: 'op-1', kind: 'node.replace', detail: 'replace h1 with h4', acquiredAt: 1_700_000_000_000 });
    // The same operation, resumed: a no-op that keeps the original time.
    expect(second.membership.acquire({ cluster: 'lab', operationId: 'op-1', kind: 'node.replace', detail: 'replace h1 with h4' }).acquiredAt).toBe(1_700_000_000_000);
    let refusal: unknown;
    try {
      second.membership.acquire({ cluster: 'lab', operationId: 'op-2', kind: 'node.add', detail: 'add h5' });
    } catch (err) {
      refusal = err;
    }
    expect(isBallastError(refusal, 'BALLAST_ERR_MEMBERSHIP_LOCKED')).toBe(true);
    expect((refusal as Error).message).toMatch(/op-1 \(node\.replace: replace h1 with h4\) holds its membership lock since 2023-11-14T22:13:20\.000Z; .*ballastctl node unlock lab/);
    // Another cluster is independent.
    expect(second.membership.acquire({ cluster: 'other', operationId: 'op-3', kind: 'node.add', detail: 'add x' }).operationId).toBe('op-3');
    expect(second.membership.release('lab', 'op-2')).toBe(false);
    expect(second.membership.release('lab', 'op-1')).toBe(true);
    expect(second.membership.lock('lab')).toBeNull();
  });

  it('finish records the new spec and releases the lock in one transaction; the spec survives a restart', () => {
    const path = stores.path();
    const a = stores.open(path);
    a.membership.acquire({ cluster: 'lab', operationId: 'op-1', kind: 'node.replace', detail: 'replace h1 with h4' });
    a.membership.finish('lab', 'op-1', { name: 'lab', hosts: [{ name: 'h4' }] });
    a.close();
    const b = stores.open(path);
    expect(b.membership.lock('lab')).toBeNull();
    expect(b.membership.spec('lab')).toMatchObject({ cluster: 'lab', operationId: 'op-1', spec: { name: 'lab', hosts: [{ name: 'h4' }] } });
    expect(b.membership.spec('nope')).toBeNull();
  });
});
