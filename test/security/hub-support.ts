/**
 * A real controller in this process (createController: its store, hub, tracker and HTTPS API on a
 * loopback port) and raw agents over real mTLS websockets, for replaying the issue 16 attacks on
 * the hub (points 5–8). Enrolment goes through the real POST /v1/join; the "agents" are bare
 * websockets so that a test can send exactly the frames an attacker would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { hashJoinSecret } from '../../controller/src/auth/join-token.js';
import { type Controller, createController } from '../../controller/src/controller.js';
import { generateKeyAndCsr } from '../../shared/src/pki.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../../shared/src/protocol/limits.js';

/** Agent credentials as `ballast-agent join` leaves them in the data dir. */
export interface AgentCreds {
  name: string;
  cert: string;
  key: string;
  ca: string;
}

/** The controller under attack, its log lines (parsed) and a way to stop it. */
export interface HubUnderTest {
  ctl: Controller;
  logs: Array<Record<string, unknown>>;
  operatorToken: string;
  enrol(name: string): Promise<AgentCreds>;
  /** Opens an mTLS websocket as `creds`, resolved once open. */
  connect(creds: AgentCreds): Promise<RawAgent>;
  /** The summed value of a counter, over all labels (or one label set). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

/** A bare agent socket that records the coded error frames it is sent and how it was closed. */
export interface RawAgent {
  ws: WebSocket;
  errors: string[];
  closed: Promise<number>;
  hello(sessionId: string): void;
}

/** Starts a controller on 127.0.0.1, port 0, in a temp data dir; its logs are kept in memory. */
export async function startHub(): Promise<HubUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-sec-hub-'));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const ctl = await createController({
    dataDir: join(dir, 'data'),
    listenHost: '127.0.0.1',
    listenPort: 0,
    advertise: ['127.0.0.1'],
    heartbeatIntervalMs: 1000,
    healthIntervalMs: 15_000,
    unreachableAfterMs: 3000,
    heartbeatFlushMs: 50,
    restartGraceMs: 5000,
    certValidityDays: 30,
    packagesDir: join(dir, 'packages'),
    joinRatePerSecond: 0,
    artifactUpstreams: [],
    artifactTrustKeys: [],
    log: pino({ level: 'info' }, sink),
  });
  await ctl.services.start();
  const operatorToken = ctl.store.operators.create({ name: 'mallory', role: 'operator' }).token;
  let tokens = 0;
  const agents: RawAgent[] = [];
  return {
    ctl,
    logs,
    operatorToken,
    async enrol(name) {
      tokens += 1;
      const id = `tok${String(tokens).padStart(3, '0')}`;
      ctl.store.tokens.create({ id, secretHash: hashJoinSecret('0123456789abcdef'), createdBy: 'admin', ttlMs: 60_000 });
      const { keyPem, csrPem } = await generateKeyAndCsr(name);
      const r = await ctl.app.inject({ method: 'POST', url: '/v1/join', payload: { token: `${id}.0123456789abcdef`, name, csr: csrPem } });
      if (r.statusCode !== 200) throw new Error(`failed to enrol ${name}: ${r.statusCode} ${r.body}`);
      const body = r.json() as { certificate: string; caCert: string };
      return { name, cert: body.certificate, key: keyPem, ca: body.caCert };
    },
    async connect(creds) {
      const ws = new WebSocket(`wss://127.0.0.1:${ctl.port()}${AGENT_WS_PATH}`, { cert: creds.cert, key: creds.key, ca: creds.ca, perMessageDeflate: false });
      const errors: string[] = [];
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as { type?: string; code?: string };
        if (f.type === 'error' && typeof f.code === 'string') errors.push(f.code);
      });
      ws.on('error', () => {}); // a terminated socket reports ECONNRESET: expected here
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
      const agent: RawAgent = {
        ws,
        errors,
        closed,
        hello: (sessionId) => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'attacker', sessionId })),
      };
      agents.push(agent);
      return agent;
    },
    async metric(name, labels) {
      const text = (await ctl.app.inject({ method: 'GET', url: '/metrics' })).body;
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
        if (m === null || m[1] !== name) continue;
        if (labels !== undefined && !Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) continue;
        sum += Number(m[3]);
      }
      return sum;
    },
    async stop() {
      // Sockets first, and their server-side close handled, while the store is still open.
      for (const a of agents) a.ws.terminate();
      await Promise.all(agents.map((a) => a.closed));
      await new Promise((r) => setTimeout(r, 100));
      await ctl.services.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` holds (polling), or fails naming `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
