/**
 * `cluster recover --from-snapshot ID --replace-current-data`: the named override of the quorum
 * guard (new hosts after `etcd snapshot import` + `cluster create`, whose fresh etcd serves; or a
 * rollback). The fixture's cluster was just created and still has quorum: exactly the new-hosts
 * situation. Real engine, SQLite, PKI, HTTP routes and hashing; modelled hosts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { type RecoverFixture, recoverFixture } from './testing.js';

const SNAPSHOT = Buffer.from('etcd snapshot bytes '.repeat(100));
const DISCARDED = 'revision 5678, 1234 keys, DB 2.0 MiB, members h1, h2, h3';

describe('cluster recover --replace-current-data', () => {
  let fx: RecoverFixture;
  afterEach(async () => fx.cleanup());

  const post = (body: Record<string, unknown>) => fx.call('POST', '/v1/clusters/lab/recover', body);
  const run = async (body: Record<string, unknown>): Promise<OperationDocument> => {
    const r = await post(body);
    if (r.statusCode !== 200) throw new Error(`recover answered ${r.statusCode}: ${JSON.stringify(r.json())}`);
    const doc = r.json<OperationDocument>();
    await fx.engine.idle(doc.id);
    return fx.engine.get(doc.id);
  };

  it('without the flag the refusal names it and what it would discard; --check shows the same; nothing is started', async () => {
    fx = await recoverFixture();
    await fx.addSnapshot('snap-1', SNAPSHOT);
    const refused = await post({ fromSnapshot: 'snap-1' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      code: 'BALLAST_ERR_ETCD_STILL_SERVING',
      message: expect.stringMatching(new RegExp(`its etcd still has quorum: h1 .*rerun with --replace-current-data \\(it would discard ${DISCARDED}\\); nothing was started$`)),
    });
    const check = await run({ fromSnapshot: 'snap-1', check: true });
    const guard = check.steps.find((s) => s.key === 'guard');
    expect(guard).toMatchObject({ state: 'skipped', message: expect.stringContaining(`would be refused: failed to recover cluster lab: its etcd still has quorum`) });
    expect(guard?.message).toContain(`--replace-current-data (it would discard ${DISCARDED})`);
    expect(fx.fleet.calls.every((c) => c.check)).toBe(true);
    expect(fx.fleet.members.every((m) => m.started)).toBe(true);
    expect(fx.store.membership.lock('lab')).toBeNull();
  });

  it('--check with the flag shows what would be discarded and changes nothing', async () => {
    fx = await recoverFixture();
    await fx.addSnapshot('snap-1', SNAPSHOT);
    const check = await run({ fromSnapshot: 'snap-1', replaceCurrentData: true, check: true });
    expect(check.state).toBe('succeeded');
    const guard = check.steps.find((s) => s.key === 'guard');
    expect(guard?.title).toMatch(/--replace-current-data: it is discarded/);
    expect(guard?.message).toMatch(new RegExp(`^--replace-current-data: etcd still serves \\(h1 \\(follows leader \\d+\\), .*\\); its current data is discarded \\(kept renamed on each host\\): ${DISCARDED} \\(3 probed\\)$`));
    expect(fx.fleet.calls.every((c) => c.check)).toBe(true);
    expect(fx.fleet.members.every((m) => m.started)).toBe(true);
    expect(fx.fleet.parked.size).toBe(0);
  });

  it('with the flag: the serving cluster is stopped, every member restored from the snapshot, 3 voters; input, guard data, event and audit record it', async () => {
    fx = await recoverFixture();
    await fx.addSnapshot('snap-1', SNAPSHOT);
    const idsBefore = fx.fleet.members.map((m) => m.id);
    const done = await run({ fromSnapshot: 'snap-1', replaceCurrentData: true });
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    expect(done.input).toMatchObject({ mode: 'snapshot', replaceCurrentData: true, snapshot: { id: 'snap-1' } });
    expect(done.steps.map((s) => s.key)).toEqual(['lock', 'guard', 'snapshot', 'apiservers/park', 'etcd/stop', 'etcd/install', 'etcd/restore', 'etcd/start', 'etcd/health', 'apiservers/unpark', 'readyz', 'kubelets/restart', 'nodes/control-plane-marks', 'finish']);
    expect(fx.engine.get(done.id).steps.find((s) => s.key === 'guard')?.message).toContain(DISCARDED);
    // The modelled Nodes carry no kubeadm marks (as the new hosts' freshly registered ones did in the lab): put back.
    expect(done.steps.find((s) => s.key === 'nodes/control-plane-marks')?.message).toMatch(/^control-plane marks put back — h1: label node-role\.kubernetes\.io\/control-plane, .*; h3: /);
    // Stopped before any restore: the agents' own guard (no quorum, local member down) still holds.
    const order = fx.fleet.calls.filter((c) => !c.check && (c.role === 'etcd-stop' || c.role === 'etcd-restore')).map((c) => `${c.role}@${c.host}`);
    expect(order).toEqual(['etcd-stop@h1', 'etcd-stop@h2', 'etcd-stop@h3', 'etcd-restore@h1', 'etcd-restore@h2', 'etcd-restore@h3']);
    expect([...fx.fleet.restored.entries()].sort()).toEqual([['h1', done.id], ['h2', done.id], ['h3', done.id]]);
    expect(fx.fleet.members.map((m) => `${m.name}:${m.started && !m.learner}`).sort()).toEqual(['h1:true', 'h2:true', 'h3:true']);
    expect(fx.fleet.members.map((m) => m.id).filter((id) => idsBefore.includes(id))).toEqual([]);
    expect(fx.store.audit.list(10).find((a) => a.action === 'cluster.recover')?.detail).toBe('snapshot snap-1, replacing the current data');
    const events = fx.store.events.list({ limit: 200 }).map((e) => e.message);
    expect(events.some((m) => m.includes('[preflight] Gate: read what the etcd of h1, h2, h3 holds; --replace-current-data'))).toBe(true);
    expect(fx.store.membership.lock('lab')).toBeNull();
  });

  it('refused with --from-member, when the live data cannot be read, and when the restore would put the revision back', async () => {
    fx = await recoverFixture();
    await fx.addSnapshot('snap-1', SNAPSHOT);
    const member = await post({ fromMember: 'h1', confirmForceNewCluster: true, replaceCurrentData: true });
    expect([member.statusCode, member.json<{ message: string }>().message]).toEqual([400, expect.stringContaining('--replace-current-data goes with --from-snapshot only')]);
    fx.fleet.countFails = 'deadline exceeded';
    const unread = await post({ fromSnapshot: 'snap-1', replaceCurrentData: true });
    expect(unread.json()).toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE', message: expect.stringContaining('could not be read (deadline exceeded); nothing is discarded unseen') });
    fx.fleet.countFails = null;
    fx.fleet.liveRevision = 4242 + 100;
    const back = await post({ fromSnapshot: 'snap-1', replaceCurrentData: true, bumpRevision: 100 });
    expect([back.statusCode, back.json()]).toEqual([400, expect.objectContaining({ code: 'BALLAST_ERR_VALIDATION', message: expect.stringContaining('rerun with a --bump-revision above 100') })]);
    expect(fx.fleet.calls.filter((c) => !c.check)).toEqual([]);
    expect(fx.fleet.members.every((m) => m.started)).toBe(true);
    expect(fx.store.membership.lock('lab')).toBeNull();
  });

  it('a controller killed mid-restore resumes with the flag to the same end state', async () => {
    fx = await recoverFixture();
    await fx.addSnapshot('snap-1', SNAPSHOT);
    fx.fleet.hang.add('etcd-restore/h2');
    const r = await post({ fromSnapshot: 'snap-1', replaceCurrentData: true });
    const { id } = r.json<OperationDocument>();
    const deadline = Date.now() + 10_000;
    while (fx.engine.get(id).current?.key !== 'etcd/restore' || fx.fleet.restored.size < 2) {
      if (Date.now() > deadline) throw new Error(`never reached the restore: ${JSON.stringify(fx.engine.get(id).current)}`);
      await new Promise((res) => setTimeout(res, 5));
    }
    const next = await fx.restart(); // the first engine is abandoned mid-step, as after SIGKILL
    expect(next.store.membership.lock('lab')).toMatchObject({ operationId: id, detail: 'recover from snapshot snap-1, replacing the current data' });
    expect(next.engine.recover()).toEqual([id]);
    await next.engine.idle(id);
    const done = next.engine.get(id);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    expect([...fx.fleet.restored.entries()].sort()).toEqual([['h1', id], ['h2', id], ['h3', id]]);
    expect(fx.fleet.members.map((m) => `${m.name}:${m.started}`).sort()).toEqual(['h1:true', 'h2:true', 'h3:true']);
  });
});
