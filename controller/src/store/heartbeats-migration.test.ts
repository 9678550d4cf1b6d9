import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from './db.js';
import { HostRepo } from './hosts.js';
import { MIGRATIONS } from './migrations.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('migration 10: host_heartbeats', () => {
  it('moves every stored last-seen time out of the hosts rows, which lose the columns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-mig10-'));
    dirs.push(dir);
    const path = join(dir, 'ballast.db');
    const old = openDatabase(path, { migrations: MIGRATIONS.slice(0, 8) });
    const insert = old.prepare(
      `INSERT INTO hosts (id, name, state, state_since, enrolled_at, cert_serial, cert_not_after, last_heartbeat_at, last_seq)
       VALUES (?, ?, 'healthy', 0, 0, ?, 1e13, ?, ?)`,
    );
    insert.run('h1', 'node-1', 's1', 5000, 7);
    insert.run('h2', 'node-2', 's2', null, null);
    old.close();

    const db = openDatabase(path);
    const hosts = new HostRepo(db);
    expect(hosts.getById('h1')).toMatchObject({ lastHeartbeatAt: 5000, lastSeq: 7 });
    expect(hosts.getById('h2')).toMatchObject({ lastHeartbeatAt: null, lastSeq: null });
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(hosts)').all().map((c) => c.name);
    expect(columns).not.toContain('last_heartbeat_at');
    expect(columns).not.toContain('last_seq');
    // The trigger keeps the narrow table in step when a host row is deleted (a name re-enrolled).
    db.prepare("DELETE FROM hosts WHERE id = 'h1'").run();
    expect(db.prepare('SELECT COUNT(*) FROM host_heartbeats').pluck().get()).toBe(0);
    db.close();
  });
});
