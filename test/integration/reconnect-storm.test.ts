/**
 * The reconnect storm at small scale (issue 15, README "Host states"): 200 agents connected to the
 * compiled controller (a child process, real SQLite file), the controller SIGKILLed, kept down long
 * enough that the agents' backoff grows towards its 30 s cap, and started again on the same data
 * dir. The agents are the real agent's connection code (`ControllerSession`: mTLS websocket, hello,
 * facts, 1 Hz heartbeats, health, the real decorrelated-jitter backoff), 200 of them in this process
 * — what 200 `ballast-agent run` would do on the wire, without 200 processes.
 *
 * It fails if any host that came back is marked unreachable at any time after the restart (every
 * transition is an event row), and — so that it cannot pass by never marking anything — if the one
 * agent that stays away is not marked unreachable once the grace is over.
 *
 * `--restart-grace 20s` is shorter than the agents' backoff tail on purpose: the old fixed grace
 * marked the stragglers unreachable here; the grace now lasts while hosts keep coming back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackoff } from '../../agent/src/backoff.js';
import { createClockOffsetEstimator } from '../../agent/src/clock.js';
import { healthChanged } from '../../agent/src/health.js';
import { ControllerSession } from '../../agent/src/session.js';
import { simFacts, simHealth } from '../../bench/lib/payloads.js';
import { silentLogger } from '../../shared/src/log.js';
import { generateKeyAndCsr } from '../../shared/src/pki.js';
import { TestController, requireBuild, stopAll, tempDir, waitFor } from './harness.js';

const AGENTS = 200;
const GRACE = '20s';
/** Down long enough for several failed attempts: the agents' delays spread towards the 30 s cap. */
const DOWN_MS = 10_000;

interface SimAgent {
  name: string;
  session: ControllerSession;
}

interface EventRow {
  id: number;
  host: string | null;
  kind: string;
  data: { to?: string; coalesced?: number };
}

describe('reconnect storm: 200 agents, controller SIGKILLed and restarted', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  const agents: SimAgent[] = [];
  const args = ['--join-rate', '0', '--restart-grace', GRACE];

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('storm');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start(args);
    const token = (await ctl.api<{ token: string; caHash: string }>('/v1/tokens', { method: 'POST', body: { ttlSeconds: 600, uses: AGENTS } })).body;
    const caPem = (await ctl.api<{ caCert: string }>('/v1/join/ca')).body.caCert;
    const names = Array.from({ length: AGENTS }, (_, i) => `storm-${String(i).padStart(3, '0')}`);
    // Enrol through the real POST /v1/join, 8 at a time.
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(
        names.slice(i, i + 8).map(async (name, j) => {
          const { keyPem, csrPem } = await generateKeyAndCsr(name);
          const r = await ctl.api<{ hostId: string; certificate: string }>('/v1/join', { method: 'POST', body: { token: token.token, name, csr: csrPem } });
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          const creds = {
            config: { apiVersion: 'ballast.dev/v1alpha1' as const, kind: 'AgentConfig' as const, server: ctl.url, name, hostId: r.body.hostId, caHash: token.caHash, joinedAt: new Date().toISOString() },
            keyPem,
            certPem: r.body.certificate,
            caPem,
          };
          const session = new ControllerSession({
            creds,
            log: silentLogger(),
            agentVersion: 'storm-test',
            backoff: createBackoff(),
            clock: createClockOffsetEstimator(),
            collectFacts: async () => simFacts(name, i + j),
            collectHealth: async () => simHealth(Date.now()),
            healthChanged,
          });
          agents.push({ name, session });
        }),
      );
    }
    for (const a of agents) a.session.start();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.session.stop()));
    await stopAll();
    await dir?.cleanup();
  });

  it('brings every returning host back healthy without ever marking it unreachable, and still marks the one that stays away', async () => {
    await waitFor('all 200 hosts healthy', async () => ((await ctl.metric('ballast_hosts{state="healthy"}')) === AGENTS ? true : undefined), 90_000, 250);
    const { body: before } = await ctl.api<{ last: number }>('/v1/events?limit=1');
    const awayAgent = agents.at(-1) as SimAgent;
    const back = agents.slice(0, -1);

    await ctl.kill('SIGKILL');
    await awayAgent.session.stop(); // this host's agent never comes back
    await new Promise((r) => setTimeout(r, DOWN_MS));
    await ctl.start(args);
    const readyAt = Date.now();
    const pid = ctl.proc?.pid ?? 0;
    let rssPeakMb = 0;
    const rss = () => {
      // VmHWM: the process's peak RSS so far.
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      rssPeakMb = Math.max(rssPeakMb, m === null ? 0 : Math.round(Number(m[1]) / 1024));
    };

    await waitFor(
      `${back.length} returning hosts healthy`,
      async () => {
        rss();
        const connected = await ctl.metric('ballast_agents_connected');
        const healthy = await ctl.metric('ballast_hosts{state="healthy"}');
        return connected >= back.length && healthy >= back.length ? true : undefined;
      },
      120_000,
      250,
    );
    const allHealthyMs = Date.now() - readyAt;
    await waitFor(`${awayAgent.name} unreachable once the grace is over`, async () => ((await ctl.metric('ballast_hosts{state="unreachable"}')) >= 1 ? true : undefined), 120_000, 250);
    const awayMs = Date.now() - readyAt;
    await new Promise((r) => setTimeout(r, 2000)); // a late false `unreachable` would show here
    rss();

    const rows: EventRow[] = [];
    for (let after = before.last; ; ) {
      const { body } = await ctl.api<{ items: EventRow[] }>(`/v1/events?after=${after}&limit=1000`);
      if (body.items.length === 0) break;
      rows.push(...body.items);
      after = Math.max(...body.items.map((e) => e.id));
    }
    const unreachable = rows.filter((e) => e.kind === 'state' && e.data.to === 'unreachable').map((e) => e.host);
    console.log(
      `[measure] storm of ${back.length}: all back healthy ${allHealthyMs} ms after ready; stayed-away host unreachable after ${awayMs} ms; ${rows.length} event rows; controller peak RSS ${rssPeakMb} MB`,
    );
    expect(unreachable, 'only the host that stayed away may be marked unreachable').toEqual([awayAgent.name]);
    // Not before the minimum grace (20 s from ready, less the time /readyz took to be seen).
    expect(awayMs).toBeGreaterThanOrEqual(19_000);
    // The event log is bounded: per-host connection rows are coalesced beyond 100 per 10 s.
    expect(rows.length).toBeLessThan(2 * AGENTS);
    expect(await ctl.metric('ballast_hosts{state="healthy"}')).toBe(back.length);
  }, 300_000);
});
