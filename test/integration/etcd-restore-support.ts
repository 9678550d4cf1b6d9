/**
 * Restoring every member of a {@link LoopbackEtcd} from one snapshot file with the agent's real
 * `etcd_restore` module — what `cluster recover`'s restore step sends each new host — then starting
 * them as a new cluster and waiting for a leader. Shared by the new-hosts restore tests.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import { createExec } from '../../agent/src/host/exec.js';
import type { SnapshotSource } from '../../agent/src/tasks/module.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { testContext } from '../../agent/src/tasks/testing.js';
import { clientUrl, type LoopbackEtcd, peerUrl } from './etcd-loopback.js';

/** What the restore is told about the snapshot (its record). */
export interface RestoredSnapshot {
  cluster: string;
  id: string;
  sha256: string;
  size: number;
}

/** Restores `names` from the database at `dbPath` (each must change), starts them `new`, waits for leaders, and checks they are voters. */
export async function restoreAndStartMembers(e: LoopbackEtcd, names: readonly string[], o: { dbPath: string; snapshot: RestoredSnapshot; restoreId: string; bumpRevision: number }): Promise<void> {
  const registry = createModuleRegistry();
  const source: SnapshotSource = { openSnapshot: async () => ({ stream: Readable.from(createReadStream(o.dbPath)), size: null }) };
  for (const n of names) {
    const out = await registry.run(
      'etcd_restore',
      {
        action: 'restore',
        restoreId: o.restoreId,
        name: n,
        initialCluster: e.initialCluster([...names]),
        peerUrls: [peerUrl(e.member(n))],
        initialClusterToken: 'ballast-lab-r1',
        snapshot: o.snapshot,
        bumpRevision: o.bumpRevision,
        endpoints: [clientUrl(e.member(n))],
        timeoutMs: 120_000,
      },
      testContext(e.member(n).root, { exec: createExec(), snapshots: source }),
    );
    expect(out.changed).toBe(true);
  }
  for (const n of names) e.start(n, [...names], 'new');
  for (const n of names) await e.waitLeader(n);
  const members = await e.client().memberList();
  expect(members.map((m) => `${m.name}:${m.isLearner ? 'learner' : 'voter'}`).sort()).toEqual(names.map((n) => `${n}:voter`));
}
