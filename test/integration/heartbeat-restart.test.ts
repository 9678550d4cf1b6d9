/**
 * Heartbeat durability and the restart grace (issue 15, README "Host states"), with the compiled
 * controller as a child process, a real SQLite file and real mTLS websockets from simulated agents
 * in this process (hello, facts, heartbeats — what the agent sends, without 40 agent processes):
 *
 * - every heartbeat an agent got an `hb-ack` for is in the database after a kill -9 (the ack means
 *   committed; what a crash loses is at most the batch not yet acked);
 * - after the restart, agents that come back within `--restart-grace` are never marked
 *   unreachable, although their stored last heartbeat is older than `--unreachable-after`;
 * - a host whose agent does not come back is marked unreachable once the grace is over — not before
 *   (at least `--restart-grace`; here the others return over ~5 s, so it lasts until the last return
 *   plus min(grace, 15 s): restart-grace.ts).
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateKeyAndCsr } from '../../shared/src/pki.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../../shared/src/protocol/limits.js';
import { TestController, hostsByName, requireBuild, stopAll, tempDir, waitFor } from './harness.js';

const HOSTS = 40;
const GRACE_MS = 10_000;

interface SimHost {
  name: string;
  hostId: string;
  keyPem: string;
  certPem: string;
  ws: WebSocket | null;
  seq: number;
  lastAckedSeq: number;
  timer: NodeJS.Timeout | null;
}

describe('heartbeats across a controller crash', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  let caCert = '';
  const hosts: SimHost[] = [];

  const connect = (h: SimHost): Promise<void> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${ctl.port}${AGENT_WS_PATH}`, { ca: caCert, cert: h.certPem, key: h.keyPem, perMessageDeflate: false });
      h.ws = ws;
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'test', sessionId: `sim-${h.name}` })));
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { type: string; seq?: number };
        if (msg.type === 'welcome') {
          ws.send(JSON.stringify({ type: 'facts', facts: facts(h.name) }));
          h.timer = setInterval(() => {
            h.seq += 1;
            if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'hb', seq: h.seq, ts: Date.now() }));
          }, 250);
          resolve();
        } else if (msg.type === 'hb-ack' && typeof msg.seq === 'number') {
          h.lastAckedSeq = Math.max(h.lastAckedSeq, msg.seq);
        }
      });
      ws.on('error', reject);
      ws.on('close', () => {
        if (h.timer !== null) clearInterval(h.timer);
        h.timer = null;
      });
    });

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('hb-restart');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start(['--join-rate', '0', '--restart-grace', `${GRACE_MS}ms`]);
    caCert = (await ctl.api<{ caCert: string }>('/v1/join/ca')).body.caCert;
    const token = (await ctl.api<{ token: string }>('/v1/tokens', { method: 'POST', body: { ttlSeconds: 600, uses: HOSTS } })).body.token;
    for (let i = 0; i < HOSTS; i++) {
      const name = `sim-${String(i).padStart(2, '0')}`;
      const { keyPem, csrPem } = await generateKeyAndCsr(name);
      const r = await ctl.api<{ hostId: string; certificate: string }>('/v1/join', { method: 'POST', body: { token, name, csr: csrPem } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      hosts.push({ name, hostId: r.body.hostId, keyPem, certPem: r.body.certificate, ws: null, seq: 0, lastAckedSeq: 0, timer: null });
    }
    await Promise.all(hosts.map(connect));
  }, 60_000);

  afterAll(async () => {
    for (const h of hosts) h.ws?.terminate();
    await stopAll();
    await dir?.cleanup();
  });

  it('keeps every acked heartbeat through kill -9, and no host that reconnects within the grace turns unreachable', async () => {
    await waitFor('all hosts healthy', async () => {
      const h = await hostsByName(ctl);
      return hosts.every((s) => h.get(s.name)?.state === 'healthy') ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500)); // a few acked beats each
    await ctl.kill('SIGKILL');
    const acked = new Map(hosts.map((h) => [h.hostId, h.lastAckedSeq]));
    for (const h of hosts) h.ws?.terminate();

    const db = new BetterSqlite3(join(ctl.dataDir, 'ballast.db'));
    const stored = new Map(db.prepare<[], { host_id: string; seq: number }>('SELECT host_id, seq FROM host_heartbeats').all().map((r) => [r.host_id, r.seq]));
    db.close();
    for (const [hostId, seq] of acked) {
      expect(seq, hostId).toBeGreaterThan(0);
      expect(stored.get(hostId), `host ${hostId}: acked seq ${seq} must be stored`).toBeGreaterThanOrEqual(seq);
    }

    // Down longer than --unreachable-after (3 s): the stored heartbeats are stale at the restart.
    await new Promise((r) => setTimeout(r, 4000));
    await ctl.start(['--join-rate', '0', '--restart-grace', `${GRACE_MS}ms`]);
    // Ready (listening, tracker started): the grace runs from about here.
    const restartedAt = Date.now();
    const { body: mark } = await ctl.api<{ last: number }>('/v1/events?limit=1');
    // All but the last come back, spread over 5 s as a backoff would spread them (the grace leaves
    // 5 s for the handshakes on a busy machine); the last stays away.
    const back = hosts.slice(0, -1);
    const away = hosts.at(-1) as SimHost;
    await Promise.all(back.map((h, i) => new Promise((r) => setTimeout(r, (5000 * i) / back.length)).then(() => connect(h))));
    await waitFor(
      `${away.name} unreachable after the grace`,
      async () => ((await hostsByName(ctl)).get(away.name)?.state === 'unreachable' ? true : undefined),
      GRACE_MS + 10_000,
      200,
    );
    const unreachableAfterMs = Date.now() - restartedAt;
    console.log(`[measure] host that never came back: unreachable ${unreachableAfterMs} ms after the restart (grace ${GRACE_MS} ms)`);
    expect(unreachableAfterMs).toBeGreaterThanOrEqual(GRACE_MS - 1000);

    const { body } = await ctl.api<{ items: Array<{ host: string | null; kind: string; data: { to?: string } }> }>(`/v1/events?after=${mark.last}&limit=1000`);
    const unreachable = body.items.filter((e) => e.kind === 'state' && e.data.to === 'unreachable').map((e) => e.host);
    expect(unreachable).toEqual([away.name]);
    const states = await hostsByName(ctl);
    for (const h of back) expect(states.get(h.name)?.state, h.name).toBe('healthy');
  }, 60_000);
});

function facts(name: string) {
  return {
    hostname: name,
    os: { platform: 'linux', distro: 'Debian', release: '13', codename: 'trixie', kernel: '6.12', arch: 'x64' },
    cpu: { manufacturer: 'sim', brand: 'sim', cores: 2, physicalCores: 1, speedGHz: 2 },
    memory: { totalBytes: 2 ** 31 },
    disks: [],
    nics: [],
    productUuid: name,
    bootId: name,
  };
}
