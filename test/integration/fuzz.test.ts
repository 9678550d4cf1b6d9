import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES } from '../../shared/src/protocol/limits.js';
import { prng } from '../support/prng.js';
import { frameGenerator } from './fuzz-frames.js';
import { TestController, createToken, hostsByName, joinAgent, probe, requireBuild, runAgent, stopAll, tempDir, waitFor } from './harness.js';

const FRAMES = 6000;
const TIME_BUDGET_MS = 60_000;

describe('protocol fuzz against a live controller', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  let fuzzerTls: { cert: string; key: string; ca: string };

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('fuzz');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
    const token = await createToken(ctl, ['--uses', '2']);
    for (const name of ['good', 'fuzzer']) {
      const r = await joinAgent({ server: ctl.url, token: token.token, caHash: token.caHash, name, dataDir: join(dir.path, name) });
      expect(r.code, r.stderr).toBe(0);
    }
    runAgent(join(dir.path, 'good'));
    const fd = join(dir.path, 'fuzzer');
    fuzzerTls = {
      cert: await readFile(join(fd, 'agent.crt'), 'utf8'),
      key: await readFile(join(fd, 'agent.key'), 'utf8'),
      ca: await readFile(join(fd, 'ca.crt'), 'utf8'),
    };
    await waitFor('good agent healthy', async () => ((await hostsByName(ctl)).get('good')?.state === 'healthy' ? true : undefined));
  });

  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  it(`survives ${FRAMES} hostile frames and keeps serving a good agent`, async () => {
    const seed = Number(process.env.BALLAST_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[fuzz] seed=${seed} (replay with BALLAST_FUZZ_SEED=${seed})`);
    const next = frameGenerator(seed, MAX_FRAME_BYTES);
    const rnd = prng(seed ^ 0x5bd1e995);
    const rejectedBefore = await sumMetric(ctl, 'ballast_frames_rejected_total');
    const errorCodes = new Map<string, number>();
    let sent = 0;
    let connections = 0;
    const started = Date.now();
    while (sent < FRAMES && Date.now() - started < TIME_BUDGET_MS) {
      connections += 1;
      const ws = new WebSocket(`${ctl.url.replace('https:', 'wss:')}/v1/agent/ws`, { ...fuzzerTls, maxPayload: 8 * 1024 * 1024 });
      ws.on('message', (data) => {
        try {
          const f = JSON.parse(data.toString()) as { type?: string; code?: string };
          if (f.type === 'error' && typeof f.code === 'string') errorCodes.set(f.code, (errorCodes.get(f.code) ?? 0) + 1);
        } catch {
          errorCodes.set('unparseable reply', (errorCodes.get('unparseable reply') ?? 0) + 1);
        }
      });
      ws.on('error', () => {}); // closes are expected: rate limit, oversized frames
      const opened = await new Promise<boolean>((res) => {
        ws.once('open', () => res(true));
        ws.once('close', () => res(false));
      });
      if (!opened) continue;
      if (rnd() < 0.7) ws.send(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 'fuzz', sessionId: `f${connections}` }));
      const burst = 50 + Math.floor(rnd() * 400);
      for (let i = 0; i < burst && sent < FRAMES && ws.readyState === WebSocket.OPEN; i++) {
        const frame = next();
        if ('binary' in frame) ws.send(frame.binary, { binary: true });
        else ws.send(frame.text);
        sent += 1;
        if (i % 25 === 0) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 20));
      ws.terminate();
    }
    console.log(`[fuzz] sent ${sent} frames over ${connections} connections in ${Date.now() - started} ms; replies: ${JSON.stringify(Object.fromEntries(errorCodes))}`);
    expect(sent).toBeGreaterThanOrEqual(FRAMES * 0.9);

    // The controller is alive and answering.
    expect(ctl.proc?.child.exitCode).toBeNull();
    expect((await probe(`${ctl.url}/healthz`)).status).toBe(200);
    // Rejections were coded and counted.
    for (const code of errorCodes.keys()) expect(code).toMatch(/^BALLAST_ERR_[A-Z_]+$/);
    // A frame that passed validation must never make the controller fail internally.
    expect(errorCodes.has('BALLAST_ERR_INTERNAL')).toBe(false);
    expect(errorCodes.get('BALLAST_ERR_FRAME_MALFORMED') ?? 0).toBeGreaterThan(0);
    expect(errorCodes.get('BALLAST_ERR_FRAME_INVALID') ?? 0).toBeGreaterThan(0);
    expect(errorCodes.get('BALLAST_ERR_FRAME_UNKNOWN_TYPE') ?? 0).toBeGreaterThan(0);
    expect((await sumMetric(ctl, 'ballast_frames_rejected_total')) - rejectedBefore).toBeGreaterThan(sent / 4);
    // The good agent never noticed: still healthy with a fresh heartbeat.
    const good = await waitFor('fresh heartbeat from good', async () => {
      const h = (await hostsByName(ctl)).get('good');
      return h !== undefined && h.lastHeartbeatAt !== null && Date.now() - Date.parse(h.lastHeartbeatAt) < 2500 ? h : undefined;
    });
    expect(good.state).toBe('healthy');
  });

  it('answers hundreds of malformed join bodies with 4xx, never a 5xx', async () => {
    const rnd = prng(42);
    const statuses = new Map<number, number>();
    const bodies: unknown[] = [
      {},
      { token: 1 },
      { token: 'a'.repeat(10_000), name: 'x', csr: 'y' },
      { token: 'abcdef.0123456789abcdef', name: 'UPPER', csr: 'x' },
      { token: 'abcdef.0123456789abcdef', name: 'ok-name', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----' },
      [],
      'text',
      null,
    ];
    for (let i = 0; i < 300; i++) {
      const body = i < bodies.length ? bodies[i] : { token: String(rnd()), name: `n${i}`, csr: String(rnd()), extra: rnd() < 0.5 ? 1 : undefined };
      const r = await ctl.api<{ code?: string }>('/v1/join', { method: 'POST', body });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(400);
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
      expect(r.body.code).toMatch(/^BALLAST_ERR_/);
    }
    console.log(`[fuzz] join statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});

async function sumMetric(ctl: TestController, name: string): Promise<number> {
  const r = await probe(`${ctl.url}/metrics`);
  return r.body
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}
