/**
 * One fan-in phase: a target server (the real controller, or the floor server) with N simulated
 * agents from the worker pool — connect, warm up, measure a window, tear down — and its figures.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProfileSummary, summariseProfile } from './cpuprofile.js';
import { type BenchController, startController } from './controller.js';
import { LogHistogram, type LatencySummary } from './histogram.js';
import type { IdentityCache } from './identities.js';
import { InspectorClient } from './inspector.js';
import { addCounts } from './ipc.js';
import { BENCH_JS, type Child, isGone, sleep, spawnNode, stopChild } from './proc.js';
import { diffHistogram, histogramQuantile, parseHistogram, parseValue } from './prom.js';
import { MachineSampler, type MachineWindow, type ProcessWindow, ProcessSampler, waitForQuiet } from './sampler.js';
import { type SoakResult, SoakSampler } from './soak.js';
import { runStorm, type StormResult, type StormSettings } from './storm.js';
import { WorkerPool } from './workers.js';

/** Settings shared by both phases of one N. */
export interface PhaseSettings {
  agents: number;
  workers: number;
  windowSeconds: number;
  warmupSeconds: number;
  /** Total new connections per second (stagger). */
  connectRate: number;
  /** Total reconnects per second at most after the connect phase (the storm). */
  reconnectRate: number;
  /** Restart the controller after the window and measure the reconnect storm (storm.ts); null: no. */
  storm: StormSettings | null;
  /** Soak: sample RSS and the store's size every `soakSampleSeconds` over the window (soak.ts). */
  soak: boolean;
  soakSampleSeconds?: number;
  /** Handshakes in flight per worker. */
  maxInflight: number;
  connectDeadlineSeconds: number;
  heartbeatFlush: string;
  /** Write a window-only CPU profile of the controller here (null: do not profile). */
  profileDir: string | null;
  /** Absolute end of the whole benchmark (epoch ms). */
  deadline: number;
  identities: IdentityCache;
  /** Data dir copied from the identity cache for this N (the floor reuses its certificates). */
  dataDir: string;
  /** Before starting, wait up to this long for other processes to leave the CPU alone. */
  quietWaitSeconds: number;
  /** "Quiet" = machine busy below this (percent of one core). */
  quietThresholdPercent: number;
}

/** What the controller says about itself (Prometheus, diffed over the window). */
export interface ControllerOwnFigures {
  agentsConnected: number | null;
  /** ballast_heartbeat_store_seconds: frame received → batch committed, ms (bucket-interpolated). */
  storeMs: { count: number; mean: number; p50: number; p99: number; buckets: Record<string, number> };
  batchRowsMean: number | null;
  /**
   * Event-loop delay over the window (prom-client's monitorEventLoopDelay, reset at every scrape, so
   * the end scrape covers the window): how long a ready callback waited for the loop, ms.
   */
  eventLoopDelayMs: { p50: number | null; p99: number | null; max: number | null };
}

/** Figures of one phase. */
export interface PhaseResult {
  target: 'controller' | 'floor';
  connect: {
    agents: number;
    connected: number;
    failed: number;
    attemptErrors: number;
    timedOut: boolean;
    wallSeconds: number;
    ms: LatencySummary;
    errorsByReason: Record<string, number>;
  };
  window: {
    seconds: number;
    heartbeatsSent: number;
    acks: number;
    ackRatio: number;
    healthSent: number;
    skippedBackpressure: number;
    disconnects: number;
    reconnects: number;
    openAtEnd: number;
    errorsByReason: Record<string, number>;
    rttMs: LatencySummary;
    loadGeneratorMaxLagMs: number;
  };
  process: ProcessWindow;
  cpuUsPerHeartbeat: number;
  loadGenerators: { cpuPercent: number; rssMbEnd: number };
  /**
   * The whole machine over the window (percent of one core; 200 = both cores), and what neither the
   * target nor the load generators used, outside interrupt time: other processes on this shared
   * machine (noise).
   */
  machine: MachineWindow & { otherPercent: number; quietBeforeStart: { waitedSeconds: number; busyPercent: number; quiet: boolean } };
  controller?: ControllerOwnFigures;
  /** Things that went wrong but did not stop the measurement. */
  problems?: string[];
  /** The reconnect storm after the window (controller only, with --storm). */
  storm?: StormResult;
  /** RSS growth and the store's size over the window (controller only, with --soak). */
  soak?: SoakResult;
  /** Window-only CPU profile, and the heap split of RSS at the end (before and after a full GC). */
  profile?: { file: string; summary: ProfileSummary; memoryMb: { beforeGc: Record<string, number>; afterGc: Record<string, number> } | null };
}

interface Target {
  readonly child: Child;
  /** Stops the controller with `signal` and starts it again on the same port and data dir. */
  restart: ((signal: StormSettings['signal']) => Promise<BenchController>) | null;
  controller: BenchController | null;
  wssUrl: string;
  caPem: string;
  scrape: (() => Promise<string>) | null;
  inspector: InspectorClient | null;
  stop(): Promise<void>;
}

async function startTarget(kind: PhaseResult['target'], s: PhaseSettings): Promise<Target> {
  const caPem = await readFile(join(s.dataDir, 'ca.crt'), 'utf8');
  if (kind === 'controller') {
    let c = await startController({
      dataDir: s.dataDir,
      heartbeatFlush: s.heartbeatFlush,
      nodeArgs: s.profileDir === null ? [] : ['--inspect=127.0.0.1:0'],
    });
    const inspector = s.profileDir === null ? null : await InspectorClient.attach(c.child);
    return {
      get child() {
        return c.child;
      },
      get controller() {
        return c;
      },
      async restart(signal) {
        inspector?.close();
        c.api.close();
        c.child.proc.kill(signal);
        await stopChild(c.child, 30_000);
        c = await startController({ dataDir: s.dataDir, heartbeatFlush: s.heartbeatFlush, port: c.port, name: 'controller-restarted', readyTimeoutMs: 180_000 });
        return c;
      },
      wssUrl: `wss://127.0.0.1:${c.port}/v1/agent/ws`,
      caPem,
      scrape: async () => (await c.api.call('GET', '/metrics')).text,
      inspector,
      async stop() {
        inspector?.close();
        c.api.close();
        await stopChild(c.child, 30_000);
      },
    };
  }
  const child = spawnNode(
    BENCH_JS('floor-server.js'),
    ['--cert', join(s.dataDir, 'server.crt'), '--key', join(s.dataDir, 'server.key'), '--ca', join(s.dataDir, 'ca.crt')],
    { name: 'floor', ipc: true },
  );
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`floor server did not listen:\n${child.tail()}`)), 15_000);
    child.proc.on('message', (m: unknown) => {
      const port = (m as { port?: unknown } | null)?.port;
      if (typeof port === 'number') {
        clearTimeout(timer);
        res(port);
      }
    });
  });
  return {
    child,
    restart: null,
    controller: null,
    wssUrl: `wss://127.0.0.1:${port}/v1/agent/ws`,
    caPem,
    scrape: null,
    inspector: null,
    stop: () => stopChild(child, 10_000).then(() => undefined),
  };
}

/** Runs one phase against `kind`; always tears down its processes. */
export async function runPhase(kind: PhaseResult['target'], s: PhaseSettings): Promise<PhaseResult> {
  const label = `${kind} n=${s.agents}`;
  const quietWait = Math.max(0, Math.min(s.quietWaitSeconds * 1000, s.deadline - Date.now() - 120_000));
  const quietBeforeStart = await waitForQuiet(s.quietThresholdPercent, quietWait);
  process.stderr.write(
    `${label}: starting (machine busy ${quietBeforeStart.busyPercent}% of a core${quietBeforeStart.waitedSeconds > 3 ? ` after waiting ${quietBeforeStart.waitedSeconds} s for quiet` : ''})\n`,
  );
  const target = await startTarget(kind, s);
  const pool = new WorkerPool({
    workers: s.workers,
    agents: s.agents,
    connectRate: s.connectRate,
    base: {
      url: target.wssUrl,
      caPem: target.caPem,
      identitiesPath: s.identities.identitiesPath,
      maxInflight: s.maxInflight,
      reconnectRate: s.reconnectRate / s.workers,
      connectTimeoutMs: 15_000,
      maxConnectAttempts: 3,
      heartbeatIntervalMs: 1000,
      healthEvery: 15,
    },
  });
  const alive = () => {
    if (isGone(target.child)) throw new Error(`${kind} exited during the run:\n${target.child.tail()}`);
  };
  try {
    const connectDeadline = Math.min(s.deadline, Date.now() + s.connectDeadlineSeconds * 1000);
    const connectStarted = Date.now();
    const { summaries, timedOut } = await pool.waitConnected(connectDeadline, label);
    alive();
    const connectMs = new LogHistogram();
    const connectErrors: Record<string, number> = {};
    let attemptErrors = 0;
    let wallMs = 0;
    for (const c of summaries) {
      connectMs.merge(c.connectMs);
      addCounts(connectErrors, c.errorsByReason);
      attemptErrors += c.attemptErrors;
      wallMs = Math.max(wallMs, c.wallMs);
    }
    const totals = pool.progressTotals();
    const connected = timedOut ? totals.connected : summaries.reduce((a, c) => a + c.connected, 0);
    if (timedOut) wallMs = Date.now() - connectStarted;
    process.stderr.write(`${label}: ${connected}/${s.agents} connected in ${(wallMs / 1000).toFixed(1)} s${timedOut ? ' (connect deadline hit)' : ''}; warming up ${s.warmupSeconds} s\n`);
    await sleep(s.warmupSeconds * 1000);
    alive();

    const problems: string[] = [];
    // An overloaded controller may not answer /metrics in time: record that, keep measuring.
    const scrape = async (when: string): Promise<string | null> => {
      if (target.scrape === null) return null;
      try {
        return await target.scrape();
      } catch (err) {
        problems.push(`${when} /metrics scrape failed: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      }
    };
    const metricsStart = await scrape('window-start');
    await target.inspector?.startProfiler();
    const machineSampler = new MachineSampler();
    const sampler = new ProcessSampler(target.child.pid);
    const workerSamplers = pool.children.map((c) => new ProcessSampler(c.pid));
    const connectedNow = async () => {
      const text = await target.scrape?.();
      return text === undefined ? null : parseValue(text, 'ballast_agents_connected');
    };
    const soak = s.soak && kind === 'controller' ? new SoakSampler(s.dataDir, () => sampler.rssSeries.at(-1) ?? 0, connectedNow, s.soakSampleSeconds) : null;
    pool.measureStart();
    process.stderr.write(`${label}: measuring for ${s.windowSeconds} s\n`);
    const windowEnd = Math.min(s.deadline, Date.now() + s.windowSeconds * 1000);
    while (Date.now() < windowEnd) {
      alive();
      await soak?.poll();
      await sleep(Math.min(1000, windowEnd - Date.now()));
    }
    const rssSeries = [...sampler.rssSeries];
    const soakFigures = await soak?.finish(rssSeries);
    const proc = sampler.stop();
    const workerWindows = workerSamplers.map((w) => w.stop());
    const machine = machineSampler.stop();
    const [stats, profile, metricsEnd] = await Promise.all([
      pool.measureStop(2000, 30_000),
      target.inspector?.stopProfiler(),
      scrape('window-end'),
    ]);

    const rtt = new LogHistogram();
    const errorsByReason: Record<string, number> = {};
    const sum = (f: (w: (typeof stats)[number]) => number) => stats.reduce((a, w) => a + f(w), 0);
    for (const w of stats) {
      rtt.merge(w.rttMs);
      addCounts(errorsByReason, w.errorsByReason);
    }
    const heartbeatsSent = sum((w) => w.heartbeatsSent);
    const acks = sum((w) => w.acks);
    const loadGeneratorCpu = workerWindows.reduce((a, w) => a + w.cpuPercent, 0);
    const result: PhaseResult = {
      target: kind,
      connect: {
        agents: s.agents,
        connected,
        failed: s.agents - connected,
        attemptErrors,
        timedOut,
        wallSeconds: Math.round(wallMs / 100) / 10,
        ms: connectMs.summary(),
        errorsByReason: connectErrors,
      },
      window: {
        seconds: proc.seconds,
        heartbeatsSent,
        acks,
        ackRatio: heartbeatsSent === 0 ? 0 : Math.round((10_000 * acks) / heartbeatsSent) / 10_000,
        healthSent: sum((w) => w.healthSent),
        skippedBackpressure: sum((w) => w.skippedBackpressure),
        disconnects: sum((w) => w.disconnects),
        reconnects: sum((w) => w.reconnects),
        openAtEnd: sum((w) => w.openAtEnd),
        errorsByReason,
        rttMs: rtt.summary(),
        loadGeneratorMaxLagMs: Math.max(0, ...stats.map((w) => w.maxWheelLagMs)),
      },
      process: proc,
      cpuUsPerHeartbeat: heartbeatsSent === 0 ? 0 : Math.round((proc.cpuSeconds * 1e6 * 10) / heartbeatsSent) / 10,
      loadGenerators: {
        cpuPercent: Math.round(loadGeneratorCpu * 10) / 10,
        rssMbEnd: Math.round(workerWindows.reduce((a, w) => a + w.rssMbEnd, 0)),
      },
      machine: { ...machine, quietBeforeStart, otherPercent: Math.max(0, Math.round((machine.busyPercent - machine.irqPercent - proc.cpuPercent - loadGeneratorCpu) * 10) / 10) },
    };
    if (metricsEnd !== null) result.controller = controllerFigures(metricsStart, metricsEnd);
    if (soakFigures !== undefined) result.soak = soakFigures;
    if (s.storm !== null && target.restart !== null && target.controller !== null) {
      process.stderr.write(`${label}: reconnect storm: ${s.storm.signal} and restart the controller\n`);
      // A failed storm is a finding of this phase, not a reason to lose the window's figures.
      try {
        result.storm = await runStorm({ controller: target.controller, restart: target.restart, agents: connected, settings: s.storm, deadline: s.deadline });
        process.stderr.write(`${label}: storm: all healthy after ${result.storm.allHealthySeconds ?? 'never (deadline)'} s, unreachable events ${result.storm.unreachableEvents}, event rows ${result.storm.eventRows}\n`);
      } catch (err) {
        problems.push(`storm failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 4000));
        process.stderr.write(`${label}: storm failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    if (problems.length > 0) result.problems = problems;
    if (profile !== undefined && s.profileDir !== null) {
      const file = join(s.profileDir, `controller-n${s.agents}-${Date.now()}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      const memoryMb = target.inspector === null ? null : { beforeGc: await target.inspector.memoryUsageMb(false), afterGc: await target.inspector.memoryUsageMb(true) };
      result.profile = { file, summary: summariseProfile(profile, 30), memoryMb };
    }
    process.stderr.write(
      `${label}: cpu ${proc.cpuPercent}% rss ${proc.rssMbEnd} MB rtt p50 ${result.window.rttMs.p50} ms p99 ${result.window.rttMs.p99} ms (load generators ${result.loadGenerators.cpuPercent}%, other processes ${result.machine.otherPercent}%, steal ${machine.stealPercent}%)\n`,
    );
    return result;
  } finally {
    await pool.shutdown();
    await target.stop();
  }
}

function controllerFigures(start: string | null, end: string): ControllerOwnFigures {
  const name = 'ballast_heartbeat_store_seconds';
  const endH = parseHistogram(end, name);
  const startH = start === null ? null : parseHistogram(start, name);
  const r = (v: number) => Math.round(v * 100) / 100;
  const buckets: Record<string, number> = {};
  let storeMs: ControllerOwnFigures['storeMs'] = { count: 0, mean: 0, p50: 0, p99: 0, buckets };
  if (endH !== null) {
    const d = diffHistogram(endH, startH);
    let prev = 0;
    for (const b of d.buckets) {
      buckets[Number.isFinite(b.le) ? `le_${b.le * 1000}ms` : 'le_inf'] = b.count - prev;
      prev = b.count;
    }
    storeMs = {
      count: d.count,
      mean: r(d.count > 0 ? (1000 * d.sum) / d.count : 0),
      p50: r(1000 * histogramQuantile(d, 0.5)),
      p99: r(1000 * histogramQuantile(d, 0.99)),
      buckets,
    };
  }
  const rowsEnd = parseHistogram(end, 'ballast_heartbeat_batch_rows');
  const rowsStart = start === null ? null : parseHistogram(start, 'ballast_heartbeat_batch_rows');
  const rows = rowsEnd === null ? null : diffHistogram(rowsEnd, rowsStart);
  const lag = (q: string) => {
    const v = parseValue(end, `ballast_controller_nodejs_eventloop_lag_${q}_seconds`);
    return v === null ? null : r(v * 1000);
  };
  return {
    eventLoopDelayMs: { p50: lag('p50'), p99: lag('p99'), max: lag('max') },
    agentsConnected: parseValue(end, 'ballast_agents_connected'),
    storeMs,
    batchRowsMean: rows === null || rows.count === 0 ? null : Math.round(rows.sum / rows.count),
  };
}
