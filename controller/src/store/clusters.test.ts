import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { MIGRATIONS } from './migrations.js';
it('migration 6 backfills the lifecycle from the newest successful, non-check create or reset', () => {
  const db = new Database(':memory:');
  for (const m of MIGRATIONS.slice(0, 5)) db.exec(m.sql);
  const ins = db.prepare("INSERT INTO operations (id, kind, cluster, state, check_mode, input_json, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'a', ?, ?)");
  ins.run('o1', 'cluster.create', 'a', 'succeeded', 0, '{"spec":{"hosts":[1,2]}}', 1, 1);
  ins.run('o2', 'cluster.reset', 'a', 'succeeded', 0, '{"spec":{"hosts":[1,2]},"hosts":["x"]}', 2, 2);
  ins.run('o3', 'cluster.reset', 'a', 'succeeded', 1, '{"spec":{"hosts":[1,2]},"hosts":["x","y"]}', 3, 3);
  ins.run('o4', 'cluster.create', 'b', 'succeeded', 0, '{"spec":{"hosts":[1,2]}}', 1, 1);
  ins.run('o5', 'cluster.reset', 'b', 'succeeded', 0, '{"spec":{"hosts":[1,2]},"hosts":["x","y"]}', 2, 2);
  ins.run('o6', 'cluster.create', 'c', 'failed', 0, '{"spec":{"hosts":[1,2]}}', 1, 1);
  db.exec((MIGRATIONS[5]?.sql ?? ""));
  expect(db.prepare('SELECT cluster, lifecycle, operation_id FROM cluster_lifecycle ORDER BY cluster').all()).toEqual([
    { cluster: 'a', lifecycle: 'partly-reset', operation_id: 'o2' },
    { cluster: 'b', lifecycle: 'reset', operation_id: 'o5' },
  ]);
});
