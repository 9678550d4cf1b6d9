/**
 * Integration harness: runs the real compiled programs (bin/*) as child processes on loopback, with
 * real TLS sockets and a real SQLite file. Every process it starts is tracked by PID and killed in
 * `stopAll()`; nothing else is ever signalled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';
import { TEST_TRUST_KEY } from '../support/bundle.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const BIN = (name: string) => join(ROOT, 'bin', name);

/** Fails fast with a clear message when the programs were not built. */
export function requireBuild(): void {
  // bin/ballast-agent runs the agent bundle (dist/agent-bundle, what the package ships).
  if (!['dist/controller/src/main.js', 'dist/agent/src/main.js', 'dist/agent-bundle/main.js'].every((f) => existsSync(join(ROOT, f)))) {
    throw new Error('integration tests run the compiled programs: run `npm run build` first');
  }
}

/** A child process with its output captured. */
export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
}

const running = new Set<Proc>();

/** Starts a program from bin/ and captures stdout+stderr. */
export function startProc(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [BIN(bin), ...args], {
    env: { ...process.env, BALLAST_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const proc: Proc = { child, pid: child.pid ?? -1, output: () => out, exited };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Runs a program to completion. */
export async function runProc(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN(bin), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return { code, stdout, stderr };
}

/** Kills every process this harness started (SIGKILL, by PID) and waits for them. */
export async function stopAll(): Promise<void> {
  const procs = [...running];
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/** A free loopback TCP port (bound and released; the race is acceptable on a test machine). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Polls `fn` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

/** A GET over HTTPS that ignores the certificate (for probes). */
export function probe(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 2000 }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => {
        body += d.toString();
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `ballast-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A controller child process on a loopback port, with helpers for ballastctl against it. */
export class TestController {
  proc: Proc | null = null;
  port = 0;
  constructor(readonly dataDir: string) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }
  get adminConf(): string {
    return join(this.dataDir, 'admin.conf');
  }

  async start(extraArgs: string[] = []): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    // Every test controller trusts the test-only signing key the test bundles are signed with (test/support/testdata).
    const trust = ['--artifact-trust-key', TEST_TRUST_KEY];
    this.proc = startProc('ballast-controller', ['--data-dir', this.dataDir, '--listen', `127.0.0.1:${this.port}`, ...trust, ...extraArgs]);
    const proc = this.proc;
    await waitFor(
      'controller /readyz',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`controller exited ${proc.child.exitCode}: ${proc.output()}`);
        const r = await probe(`${this.url}/readyz`);
        return r.status === 200 ? true : undefined;
      },
      20_000,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (proc === null) return;
    proc.child.kill(signal);
    await proc.exited;
    this.proc = null;
  }

  /** A JSON API call with the admin token (faster than spawning ballastctl in tight polls). */
  api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<{ status: number; body: T }> {
    const conf = parse(readFileSync(this.adminConf, 'utf8')) as { caCert: string; token: string };
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    return new Promise((res, rej) => {
      const req = request(
        `${this.url}${path}`,
        {
          method: init.method ?? 'GET',
          ca: conf.caCert,
          timeout: 10_000,
          headers: {
            authorization: `Bearer ${init.token ?? conf.token}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
        },
        (r) => {
          let text = '';
          r.on('data', (d: Buffer) => {
            text += d.toString();
          });
          r.on('end', () => {
            const isJson = (r.headers['content-type'] ?? '').includes('json');
            res({ status: r.statusCode ?? 0, body: (isJson ? JSON.parse(text) : text) as T });
          });
        },
      );
      req.on('error', rej);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** The value of one Prometheus sample, e.g. `ballast_auth_rejected_total{reason="no_client_cert"}`. */
  async metric(sample: string): Promise<number> {
    const r = await probe(`${this.url}/metrics`);
    const line = r.body.split('\n').find((l) => l.startsWith(`${sample} `));
    return line === undefined ? 0 : Number(line.slice(sample.length + 1));
  }

  /** Runs ballastctl with this controller's admin.conf (or another config). */
  ctl(args: string[], config = this.adminConf) {
    return runProc('ballastctl', ['--config', config, ...args]);
  }

  /** `ballastctl … -o json`, parsed; throws with stderr when the command failed. */
  async ctlJson<T>(args: string[], config = this.adminConf): Promise<T> {
    const r = await this.ctl([...args, '-o', 'json'], config);
    if (r.code !== 0) throw new Error(`ballastctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }
}

/** Shapes of `ballastctl … -o json` used by the tests. */
export interface HostJson {
  name: string;
  id: string;
  state: string;
  connected: boolean;
  lastHeartbeatAt: string | null;
}
export interface TokenJson {
  token: string;
  caHash: string;
  server: string;
  joinCommand: string;
  info: { id: string };
}

/** Creates a join token through ballastctl. */
export async function createToken(ctl: TestController, args: string[] = []): Promise<TokenJson> {
  return ctl.ctlJson<TokenJson>(['token', 'create', ...args]);
}

/** `ballast-agent join` as a child process. */
export function joinAgent(opts: { server: string; token: string; caHash: string; name: string; dataDir: string }) {
  return runProc('ballast-agent', [
    'join',
    '--server',
    opts.server,
    '--token',
    opts.token,
    '--ca-hash',
    opts.caHash,
    '--name',
    opts.name,
    '--data-dir',
    opts.dataDir,
  ]);
}

/** `ballast-agent run` as a long-running child process. */
export function runAgent(dataDir: string, extra: string[] = []): Proc {
  return startProc('ballast-agent', ['run', '--data-dir', dataDir, ...extra]);
}

/** The host list from ballastctl, by name. */
export async function hostsByName(ctl: TestController): Promise<Map<string, HostJson>> {
  const list = await ctl.ctlJson<{ items: HostJson[] }>(['hosts']);
  return new Map(list.items.map((h) => [h.name, h]));
}
