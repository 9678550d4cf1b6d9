import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from './store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('AuditRepo', () => {
  it('appends entries and lists the newest first, by id even if the clock went back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-audit-'));
    dirs.push(dir);
    const times: number[] = [];
    const store = openStore({ path: join(dir, 'ballast.db'), now: () => times.shift() ?? 0 });
    times.push(300, 100, 200);
    stores.push(store);
    const first = store.audit.append({
      actor: 'alice',
      role: 'operator',
      action: 'token.create',
      target: 'abcdef',
      outcome: 'ok',
    });
    expect(first).toEqual({
      id: 1,
      ts: 300,
      actor: 'alice',
      role: 'operator',
      action: 'token.create',
      target: 'abcdef',
      outcome: 'ok',
      detail: '',
    });
    store.audit.append({ actor: 'bob', role: 'viewer', action: 'host.remove', target: 'node-a', outcome: 'denied', detail: 'needs operator' });
    store.audit.append({ actor: 'alice', role: 'operator', action: 'host.remove', target: 'node-b', outcome: 'failed', detail: 'not found' });
    expect(store.audit.list(10).map((e) => [e.id, e.outcome])).toEqual([
      [3, 'failed'],
      [2, 'denied'],
      [1, 'ok'],
    ]);
    expect(store.audit.list(2).map((e) => e.id)).toEqual([3, 2]);
  });
});
