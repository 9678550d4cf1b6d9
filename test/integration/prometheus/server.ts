/**
 * Debian's Prometheus server as a test child process on a loopback port, with a temporary config
 * and TSDB, and a small client for its HTTP API (/api/v1/query, /api/v1/query_range,
 * /api/v1/alerts). The process is killed by its PID in `stop()`; every wait has a deadline. The lab
 * runs it inside a lab namespace through a {@link PrometheusPlacement} (test/lab/support-prometheus.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitFor } from '../harness.js';

/** One scrape job of the generated prometheus.yml. */
export interface ScrapeJob {
  job_name: string;
  scheme?: 'http' | 'https';
  tls_config?: { ca_file: string; cert_file?: string; key_file?: string };
  static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
}

/**
 * Where the server runs, when not on a free loopback port of this process's namespace: `wrap` is
 * put before its argv (e.g. `nsenter --net=…`, which execs it: the PID stays Prometheus's own),
 * `listen` is its --web.listen-address there, and `url` is where this process reaches its API.
 */
export interface PrometheusPlacement {
  wrap: string[];
  listen: string;
  url: string;
}

/** A vector sample from /api/v1/query. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A matrix series from /api/v1/query_range: its samples as [unix seconds, value]. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** A query_range window: Unix milliseconds, and the step in seconds. */
export interface RangeWindow {
  startMs: number;
  endMs: number;
  stepSeconds: number;
}

/** An alert from /api/v1/alerts. */
export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** An API reply as Prometheus sends it. */
export interface ApiReply<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

/** A running Prometheus. */
export class TestPrometheus {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    private readonly output: () => string,
  ) {}

  /** Writes the config (1 s scrape and rule evaluation) and starts the server; resolves once /-/ready answers. */
  static async start(opts: { binary: string; dir: string; ruleFiles: string[]; jobs: ScrapeJob[]; placement?: PrometheusPlacement }): Promise<TestPrometheus> {
    await mkdir(join(opts.dir, 'data'), { recursive: true });
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: opts.ruleFiles,
      scrape_configs: opts.jobs,
    };
    const configFile = join(opts.dir, 'prometheus.yml');
    await writeFile(configFile, stringify(config));
    let placement = opts.placement;
    if (placement === undefined) {
      const port = await freePort();
      placement = { wrap: [], listen: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
    }
    const argv = [
      ...placement.wrap,
      opts.binary,
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(opts.dir, 'data')}`,
      `--web.listen-address=${placement.listen}`,
      '--log.level=warn',
    ];
    const child = spawn(argv[0] ?? opts.binary, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const prom = new TestPrometheus(placement.url, child, exited, () => out);
    try {
      await waitFor(
        'prometheus /-/ready',
        async () => {
          if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${out}`);
          const r = await fetch(`${prom.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
          return r.status === 200 ? true : undefined;
        },
        30_000,
        200,
      );
    } catch (err) {
      await prom.stop(); // never left running when the caller gets no handle to stop it
      throw err;
    }
    return prom;
  }

  /** Its process id (for a caller that records what it started, e.g. the lab's state). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Its log, for failure messages. */
  log(): string {
    return this.output();
  }

  /** Kills the process by its PID (SIGKILL) and waits for it. */
  async stop(): Promise<void> {
    if (this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
  }

  /** The raw API reply of an instant query: status `error` for an invalid expression. */
  async queryRaw(expr: string): Promise<ApiReply<{ resultType: string; result: unknown[] }>> {
    const r = await fetch(`${this.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }).toString(),
      signal: AbortSignal.timeout(5000),
    });
    return (await r.json()) as ApiReply<{ resultType: string; result: unknown[] }>;
  }

  /** An instant vector query; throws on an API error or a non-vector result. */
  async query(expr: string): Promise<Sample[]> {
    const reply = await this.queryRaw(expr);
    if (reply.status !== 'success') throw new Error(`query ${expr} failed: ${reply.errorType}: ${reply.error}`);
    if (reply.data.resultType !== 'vector') throw new Error(`query ${expr} returned a ${reply.data.resultType}, not a vector`);
    return reply.data.result as Sample[];
  }

  /** The raw API reply of a range query over `window`. */
  async queryRangeRaw(expr: string, window: RangeWindow): Promise<ApiReply<{ resultType: string; result: unknown[] }>> {
    const r = await fetch(`${this.url}/api/v1/query_range`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        query: expr,
        start: String(window.startMs / 1000),
        end: String(window.endMs / 1000),
        step: String(window.stepSeconds),
      }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    return (await r.json()) as ApiReply<{ resultType: string; result: unknown[] }>;
  }

  /** A range query; throws on an API error or a non-matrix result. */
  async queryRange(expr: string, window: RangeWindow): Promise<RangeSeries[]> {
    const reply = await this.queryRangeRaw(expr, window);
    if (reply.status !== 'success') throw new Error(`query_range ${expr} failed: ${reply.errorType}: ${reply.error}`);
    if (reply.data.resultType !== 'matrix') throw new Error(`query_range ${expr} returned a ${reply.data.resultType}, not a matrix`);
    return reply.data.result as RangeSeries[];
  }

  /** The pending and firing alerts. */
  async alerts(): Promise<ActiveAlert[]> {
    const r = await fetch(`${this.url}/api/v1/alerts`, { signal: AbortSignal.timeout(5000) });
    const reply = (await r.json()) as ApiReply<{ alerts: ActiveAlert[] }>;
    if (reply.status !== 'success') throw new Error(`/api/v1/alerts failed: ${reply.error}`);
    return reply.data.alerts;
  }
}
