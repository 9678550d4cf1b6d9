import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { TAKEN_OUT_REASON } from './executors-flow.js';
import { operationOfReason, ReturnedHostCleaner } from './returned-host.js';
import { specSource } from './specs.js';
import { type MembershipFixture, membershipFixture } from './testing.js';

describe('ReturnedHostCleaner (real engine, SQLite and PKI; modelled Kubernetes API)', () => {
  let fx: MembershipFixture;
  afterEach(async () => fx?.cleanup());

  it('reads the operation id from the revocation reason', () => {
    expect(operationOfReason(`${TAKEN_OUT_REASON} op-7f3a (node.replace)`)).toBe('op-7f3a');
    expect(operationOfReason('removed by alice')).toBeNull();
  });

  it("deletes the Node a replaced host's kubelet registered again, not a reused name, at most once per interval", async () => {
    fx = await membershipFixture();
    await fx.create();
    const r = await fx.call('POST', '/v1/nodes/replace', { old: 'h2', new: 'h4' });
    const op = r.json<{ id: string }>().id;
    await fx.engine.idle(op);
    expect(fx.engine.get(op).state).toBe('succeeded');
    const reason = `${TAKEN_OUT_REASON} ${op} (node.replace)`;
    expect(fx.fleet.nodes.has('h2')).toBe(false);
    // h2 powered on again: its kubelet registers Node h2 before its agent is refused.
    fx.fleet.nodes.add('h2');
    let t = 0;
    const events: string[] = [];
    const cleaner = new ReturnedHostCleaner({
      specs: specSource(fx.engine, fx.store.membership),
      membership: fx.membership,
      clusterOf: (id) => fx.store.operations.get(id)?.cluster ?? null,
      events: { append: (e) => events.push(`${e.kind}: ${e.message}`) },
      log: silentLogger(),
      minIntervalMs: 5000,
      now: () => t,
    });
    expect(await cleaner.refused('h2', reason)).toBe('Node h2 deleted');
    expect(fx.fleet.nodes.has('h2')).toBe(false);
    expect(events).toEqual(['node.stale-deleted: Node h2 was registered again by the taken-out host (kubelet at boot): deleted from cluster lab']);
    // Registered again within the interval: left for the next refusal after it.
    fx.fleet.nodes.add('h2');
    t = 1000;
    expect(await cleaner.refused('h2', reason)).toBe('skipped: checked recently');
    expect(fx.fleet.nodes.has('h2')).toBe(true);
    t = 6000;
    expect(await cleaner.refused('h2', reason)).toBe('Node h2 deleted');
    // A host the cluster has (h4 joined in h2's place) is never touched, whatever reason is given.
    t = 20_000;
    expect(await cleaner.refused('h4', `${TAKEN_OUT_REASON} ${op} (node.replace)`)).toBe('skipped: cluster lab has a host named h4 again');
    expect(fx.fleet.nodes.has('h4')).toBe(true);
    expect(await cleaner.refused('h9', 'revoked by alice')).toMatch(/^skipped: no cluster known/);
  });
});
