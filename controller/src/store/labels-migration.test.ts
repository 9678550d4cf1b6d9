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

describe('migration 11: host labels', () => {
  it('gives the hosts of an existing store file empty labels, which then persist across a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-mig11-'));
    dirs.push(dir);
    const path = join(dir, 'ballast.db');
    const version = MIGRATIONS.findIndex((m) => m.name === 'host_labels');
    expect(version).toBeGreaterThan(0);
    const old = openDatabase(path, { migrations: MIGRATIONS.slice(0, version) });
    old.prepare(`INSERT INTO hosts (id, name, state, state_since, enrolled_at, cert_serial, cert_not_after) VALUES ('h1', 'node-1', 'healthy', 0, 0, 's1', 1e13)`).run();
    expect(old.prepare<[], { name: string }>('PRAGMA table_info(hosts)').all().map((c) => c.name)).not.toContain('labels_json');
    old.close();

    const db = openDatabase(path);
    const hosts = new HostRepo(db);
    expect(hosts.getById('h1')).toMatchObject({ name: 'node-1', labels: {} });
    hosts.changeLabels('h1', { set: { pool: 'spare', 'ballast.dev/rack': 'r1' }, remove: [], overwrite: false });
    db.close();

    const reopened = openDatabase(path);
    expect(new HostRepo(reopened).getByName('node-1')?.labels).toEqual({ 'ballast.dev/rack': 'r1', pool: 'spare' });
    reopened.close();
  });
});
