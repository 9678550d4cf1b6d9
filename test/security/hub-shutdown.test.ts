/**
 * A controller stopped while agents are still connected: the hub waits for every socket to close
 * (terminating a silent one after its timeout), so each session records its disconnect while the
 * store is still open — before, `closeAll` only started the closing handshakes and a session closing
 * after the store threw "The database connection is not open" out of its close handler.
 */
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startHub, until } from './hub-support.js';

describe('controller shutdown with agents connected', () => {
  it('closes every agent session and writes its disconnect before the store closes', async () => {
    const hub = await startHub();
    try {
      const agents = [];
      for (const name of ['node-a', 'node-b']) {
        const agent = await hub.connect(await hub.enrol(name));
        agent.hello(`s-${name}`);
        agents.push(agent);
      }
      await until('both agents connected', () => hub.ctl.store.events.list({ limit: 50 }).filter((e) => e.kind === 'connected').length === 2, 5_000);
      await hub.ctl.services.stop();
      // The agents saw the controller's close (1001), not a dropped connection.
      expect(await Promise.all(agents.map((a) => a.closed))).toEqual([1001, 1001]);
      const db = new Database(join(dirname(hub.ctl.adminConfPath), 'ballast.db'), { readonly: true });
      try {
        const rows = db.prepare("SELECT host_name AS host, message FROM events WHERE kind = 'disconnected' ORDER BY id").all() as { host: string; message: string }[];
        expect(rows.map((r) => r.host).sort()).toEqual(['node-a', 'node-b']);
        expect(rows[0]?.message).toMatch(/^agent disconnected \(code 1001: controller shutting down\) at /);
      } finally {
        db.close();
      }
      expect(hub.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    } finally {
      await hub.stop();
    }
  });
});
