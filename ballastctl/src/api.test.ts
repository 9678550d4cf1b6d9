import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventKind } from '../../shared/src/events.js';
import type { BallastEvent, HostDetailResponse, HostSummary } from '../../shared/src/api.js';
import { runCli } from './cli.js';
import { parseConfig } from './config.js';
import { UNUSED_CA_PEM, writeCtlConfig } from './testing.js';

// A stand-in controller on 127.0.0.1 that serves schema-valid data for the routes under test.
const ADMIN = 'blst_admin';
const VIEWER = 'blst_viewer';
const CA = UNUSED_CA_PEM;

const host = (name: string, state: HostSummary['state']): HostSummary => ({
  name,
  id: `h_${name}`,
  state,
  connected: state !== 'unreachable',
  stateSince: new Date(Date.now() - 300_000).toISOString(),
  lastHeartbeatAt: new Date(Date.now() - 5000).toISOString(),
  enrolledAt: '2024-04-01T00:00:00.000Z',
  address: '10.0.0.1',
  agentVersion: '0.1.0',
  os: 'Debian 12',
  kernel: '6.1.0',
  cpus: 8,
  memoryBytes: 17179869184,
  failingChecks: state === 'degraded' ? ['ntp'] : [],
});

interface Fake {
  url: string;
  hosts: HostSummary[];
  events: BallastEvent[];
  requests: { method: string; url: string; auth: string | undefined; body: string }[];
  override: Map<string, { status: number; body: unknown }>;
  push(kind: EventKind, message: string, hostName?: string): void;
  close(): Promise<void>;
}

async function startFake(): Promise<Fake> {
  const waiters = new Set<() => void>();
  const fake: Fake = {
    url: '',
    hosts: [host('node-1', 'healthy'), host('node-2', 'degraded')],
    events: [{ id: 1, ts: '2024-05-01T12:00:00.000Z', host: 'node-1', kind: 'enrolled', message: 'node-1 joined', data: {} }],
    requests: [],
    override: new Map(),
    push(kind, message, hostName = 'node-1') {
      const id = (fake.events.at(-1)?.id ?? 0) + 1;
      fake.events.push({ id, ts: new Date().toISOString(), host: hostName, kind, message, data: {} });
      for (const wake of [...waiters]) wake();
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization;
      fake.requests.push({ method: req.method ?? '', url: req.url ?? '', auth, body });
      const send = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      const override = fake.override.get(url.pathname);
      if (override !== undefined) return send(override.status, override.body);
      if (auth !== `Bearer ${ADMIN}` && auth !== `Bearer ${VIEWER}`) return send(401, { code: 'BALLAST_ERR_UNAUTHENTICATED', message: 'unknown token' });
      if (req.method !== 'GET' && auth !== `Bearer ${ADMIN}`) {
        return send(403, { code: 'BALLAST_ERR_FORBIDDEN', message: `role viewer may not ${req.method} ${url.pathname}` });
      }
      const hostMatch = /^\/v1\/hosts\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && url.pathname === '/v1/hosts') return send(200, { items: fake.hosts });
      if (hostMatch !== null) {
        const found = fake.hosts.find((h) => h.name === decodeURIComponent(hostMatch[1] ?? ''));
        if (found === undefined) return send(404, { code: 'BALLAST_ERR_NOT_FOUND', message: `host "${hostMatch[1]}" not found` });
        if (req.method === 'DELETE') return send(200, found);
        return send(200, detail(found, fake.events));
      }
      if (url.pathname === '/v1/tokens' && req.method === 'POST') {
        const ttl = (JSON.parse(body) as { ttlSeconds: number }).ttlSeconds;
        const info = { id: 'tok_1', description: 'rack 4', createdAt: new Date().toISOString(), createdBy: 'admin',
          expiresAt: new Date(Date.now() + ttl * 1000).toISOString(), usesAllowed: 2, usesCount: 0, revoked: false, status: 'active' };
        return send(200, { token: 'bjt_secret', caHash: 'sha256:abcd', server: fake.url, joinCommand: `ballast-agent join ${fake.url} --token bjt_secret --ca-hash sha256:abcd`, info });
      }
      if (url.pathname === '/v1/operators' && req.method === 'POST') {
        const { name, role } = JSON.parse(body) as { name: string; role: string };
        return send(200, { token: 'blst_new', info: { name, role, createdAt: new Date().toISOString(), revoked: false } });
      }
      if (url.pathname === '/v1/events') return events(url, send);
      send(404, { code: 'BALLAST_ERR_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
    });
  });
  function events(url: URL, send: (status: number, payload: unknown) => void): void {
    const after = Number(url.searchParams.get('after') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const hostName = url.searchParams.get('host');
    const page = () => {
      const items = fake.events.filter((e) => e.id > after && (hostName === null || e.host === hostName)).slice(-limit);
      return { items, last: Math.max(after, fake.events.at(-1)?.id ?? 0) };
    };
    const wait = Number(url.searchParams.get('wait') ?? 0);
    if (page().items.length > 0 || wait === 0) {
      send(200, page());
      return;
    }
    const wake = (): void => {
      waiters.delete(wake);
      clearTimeout(timer);
      send(200, page());
    };
    const timer = setTimeout(wake, wait * 1000);
    waiters.add(wake);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function detail(h: HostSummary, events: BallastEvent[]): HostDetailResponse {
  const checks = [
    { name: 'kubelet', ok: true, message: 'active' },
    { name: 'ntp', ok: false, message: 'clock not synchronised' },
  ];
  const memory = { totalBytes: 17179869184, availableBytes: 8589934592 };
  const health = { ts: Date.now(), load: [0.5, 0.25, 0.1] as [number, number, number], memory, disks: [], clockOffsetMs: 3, checks };
  return { host: h, facts: null, health, events: events.filter((e) => e.host === h.name) };
}

let dir: string;
let fake: Fake;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ballastctl-api-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => fake?.close());

function writeConfig(server: string, token: string): string {
  return writeCtlConfig(join(dir, `${token}.conf`), { server, token, ca: CA });
}

async function ctl(argv: string[], options: { token?: string; signal?: AbortSignal; server?: string } = {}) {
  const result = { code: -1, out: '', err: '' };
  const config = writeConfig(options.server ?? fake.url, options.token ?? ADMIN);
  const run = runCli(argv, {
    stdout: { write: (s: string) => (result.out += s) },
    stderr: { write: (s: string) => (result.err += s) },
    env: { BALLAST_CONFIG: config },
    homedir: dir,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).then((code) => {
    result.code = code;
    return result;
  });
  return { result, done: run };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ballastctl against a controller', () => {
  it('hosts -o json prints exactly the API response, with the bearer token', async () => {
    fake = await startFake();
    const { code, out, err } = await (await ctl(['hosts', '-o', 'json'])).done;
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe(`${JSON.stringify({ items: fake.hosts }, null, 2)}\n`);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', url: '/v1/hosts', auth: `Bearer ${ADMIN}` });
  });

  it('hosts prints an aligned table', async () => {
    fake = await startFake();
    const { code, out } = await (await ctl(['hosts'])).done;
    expect(code).toBe(0);
    expect(out.split('\n')).toEqual([
      'NAME     STATE      AGE   LAST-HEARTBEAT   ADDRESS    VERSION',
      'node-1   healthy    5m    5s               10.0.0.1   0.1.0',
      'node-2   degraded   5m    5s               10.0.0.1   0.1.0',
      '',
    ]);
  });

  it('host show marks checks ok/FAIL', async () => {
    fake = await startFake();
    const { code, out } = await (await ctl(['host', 'node-1'])).done;
    expect(code).toBe(0);
    expect(out).toMatch(/STATUS\s+CHECK\s+MESSAGE\n\s+ok\s+kubelet\s+active\n\s+FAIL\s+ntp\s+clock not synchronised\n/);
    expect(out).toContain('node-1 joined');
    for (const argv of [['host', 'show', 'node-1', '-o', 'json'], ['host', 'node-1', '-o', 'json']]) {
      const json = await (await ctl(argv)).done;
      expect(JSON.parse(json.out)).toMatchObject({ host: { name: 'node-1' }, facts: null });
    }
  });

  it('maps 403 to "forbidden: <reason>" and exit 1', async () => {
    fake = await startFake();
    const { code, out, err } = await (await ctl(['token', 'create'], { token: VIEWER })).done;
    expect({ code, out, err }).toEqual({ code: 1, out: '', err: 'error: forbidden: role viewer may not POST /v1/tokens\n' });
  });

  it('maps 401 to an unauthenticated message naming the server', async () => {
    fake = await startFake();
    const { code, err } = await (await ctl(['whoami'], { token: 'blst_wrong' })).done;
    expect({ code, err }).toEqual({ code: 1, err: `error: controller ${fake.url}: unauthenticated: unknown token\n` });
  });

  it('prints other API errors as "<code>: <message>"', async () => {
    fake = await startFake();
    const { code, err } = await (await ctl(['host', 'remove', 'nope'])).done;
    expect({ code, err }).toEqual({ code: 1, err: 'error: BALLAST_ERR_NOT_FOUND: host "nope" not found\n' });
  });

  it('rejects a response that does not match the contract', async () => {
    fake = await startFake();
    fake.override.set('/v1/audit', { status: 200, body: { items: [{ id: 1, ts: 'x', actor: 'a' }] } });
    const { code, err } = await (await ctl(['audit'])).done;
    expect(code).toBe(1);
    expect(err).toMatch(new RegExp(`^error: unexpected response from controller ${fake.url} to GET /v1/audit: /items/0/role: .+\\n$`));
  });

  it('reports a closed port as a one-line connection failure', async () => {
    fake = await startFake();
    const closed = fake.url;
    await fake.close();
    const { code, out, err } = await (await ctl(['hosts'], { server: closed })).done;
    expect({ code, out, err }).toEqual({ code: 1, out: '', err: `error: cannot reach controller ${closed}: ECONNREFUSED (connection refused)\n` });
  });

  it('token create sends the parsed flags and prints the join command', async () => {
    fake = await startFake();
    const { code, out } = await (await ctl(['token', 'create', '--ttl', '30m', '--uses', '2', '--description', 'rack 4'])).done;
    expect(code).toBe(0);
    expect(JSON.parse(fake.requests[0]?.body ?? '')).toEqual({ ttlSeconds: 1800, uses: 2, description: 'rack 4' });
    expect(out).toMatch(/Token:\s+bjt_secret\n/);
    expect(out).toMatch(/CA hash:\s+sha256:abcd\n/);
    expect(out).toMatch(/Expires:\s+\S+Z \(in (29|30)m\)\n/);
    expect(out).toContain(`\n  ballast-agent join ${fake.url} --token bjt_secret --ca-hash sha256:abcd\n`);
  });

  it('operator create prints the token once and a usable config', async () => {
    fake = await startFake();
    const { code, out } = await (await ctl(['operator', 'create', 'alice', '--role', 'viewer'])).done;
    expect(code).toBe(0);
    expect(out).toContain('Token (shown only once, store it now): blst_new');
    const snippet = out.slice(out.indexOf('apiVersion:'));
    expect(parseConfig(snippet, 'snippet')).toEqual({ apiVersion: 'ballast.dev/v1alpha1', kind: 'Config', server: fake.url, caCert: CA, token: 'blst_new', user: 'alice' });
  });

  it('events --follow receives a new event through the long-poll and stops on abort', async () => {
    fake = await startFake();
    const interrupt = new AbortController();
    const { result, done } = await ctl(['events', '--follow', '-o', 'json'], { signal: interrupt.signal });
    await until(() => result.out.includes('node-1 joined'), 'the initial events');
    await until(() => fake.requests.some((r) => r.url.includes('wait=25')), 'the long-poll');
    fake.push('state', 'node-1 is degraded');
    await until(() => result.out.includes('node-1 is degraded'), 'the new event');
    interrupt.abort();
    const { code, out, err } = await done;
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as BallastEvent);
    expect(lines.map((e) => [e.id, e.kind])).toEqual([[1, 'enrolled'], [2, 'state']]);
    expect(fake.requests.find((r) => r.url.includes('wait='))?.url).toMatch(/after=1&wait=25&limit=1000/);
  });

  it('hosts --watch -o json prints one document per line and reprints on events', async () => {
    fake = await startFake();
    const interrupt = new AbortController();
    const { result, done } = await ctl(['hosts', '--watch', '-o', 'json'], { signal: interrupt.signal });
    await until(() => result.out.split('\n').length === 2, 'the first document');
    await until(() => fake.requests.some((r) => r.url.includes('wait=25')), 'the long-poll');
    fake.hosts[1] = host('node-2', 'unreachable');
    fake.push('state', 'node-2 is unreachable', 'node-2');
    await until(() => result.out.split('\n').length === 3, 'the second document');
    interrupt.abort();
    const { code, out } = await done;
    expect(code).toBe(0);
    const docs = out.trimEnd().split('\n').map((l) => JSON.parse(l) as { items: HostSummary[] });
    expect(docs.map((d) => d.items[1]?.state)).toEqual(['degraded', 'unreachable']);
  });
});
