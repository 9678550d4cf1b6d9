/**
 * Controller fan-in benchmark (issue 2, "Benchmarks"; DESIGN.md "Scale: the floor on this machine").
 *
 * For each N: enrol N hosts through the real POST /v1/join (cached in .bench-out/identities/n<N>),
 * start the controller on a fresh copy of that data dir, connect N simulated agents from several
 * load-generator processes (each a distinct host with its own client certificate), send 1 Hz
 * heartbeats and a health snapshot every 15 s, and measure a window: heartbeat → hb-ack round trip
 * (which includes the batched SQLite commit), the controller's own store histogram, its CPU and
 * RSS. Then the same agents and load generators against THE FLOOR (floor-server.ts), and the
 * controller/floor ratios. One JSON document on stdout; progress on stderr.
 *
 *   npm run build && node dist/bench/fanin.js --agents 1000,5000,10000 [--window 60] [--workers 2]
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchArgs } from './lib/args.js';
import { BENCH_OUT, ensureIdentities, type IdentityCache } from './lib/identities.js';
import { type PhaseResult, type PhaseSettings, runPhase } from './lib/phase.js';
import { hardFdLimit, killAllChildren, softFdLimit } from './lib/proc.js';

const HELP = `usage: node dist/bench/fanin.js [options]
  --agents LIST          agent counts, run in order (default 1000,5000,10000)
  --workers N            load-generator processes (default 2)
  --window S             measurement window in seconds, after all agents connected (default 60)
  --warmup S             seconds between "all connected" and the window (default 5)
  --connect-rate R       new connections per second over all workers (default 400)
  --max-inflight K       TLS handshakes in flight per worker (default 64)
  --connect-deadline S   give up connecting after S seconds and measure what holds (default 240)
  --reconnect-rate R     reconnects per second at most over all workers once connected (default 2000)
  --storm kill|term      after the controller's window: SIGKILL (crash) or SIGTERM (upgrade) it, start it
                         again on the same port and data dir, and measure the reconnect storm (default off)
  --storm-deadline S     give up waiting for all hosts healthy after the restart after S seconds (default 120)
  --soak S               the controller's window lasts S seconds (after --warmup) and reports RSS growth and the store's
                         size and rows per table over it (use with --targets controller)
  --soak-sample S        soak: sample RSS and the store (file size, rows per table) every S seconds (default 30)
  --heartbeat-flush D    controller --heartbeat-flush (default 50ms)
  --targets LIST         controller,floor (default both)
  --enrol-concurrency C  concurrent POST /v1/join during enrolment (default 8)
  --quiet-wait S         before each phase, wait up to S s for other processes to go quiet (default 300)
  --quiet-threshold P    "quiet" = machine busy below P % of one core (default 30)
  --noisy-retries K      rerun a phase whose window had > --quiet-threshold % of other load, K times (default 1)
  --profile DIR          CPU-profile the controller during the window (inspector) into DIR
  --out FILE             also write the JSON document to FILE
  --max-seconds S        hard bound on the whole run (default 3600)`;

const { values } = benchArgs(HELP, {
  options: {
    agents: { type: 'string', default: '1000,5000,10000' },
    workers: { type: 'string', default: '2' },
    window: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    'connect-rate': { type: 'string', default: '400' },
    'max-inflight': { type: 'string', default: '64' },
    'connect-deadline': { type: 'string', default: '240' },
    'heartbeat-flush': { type: 'string', default: '50ms' },
    'reconnect-rate': { type: 'string', default: '2000' },
    storm: { type: 'string' },
    'storm-deadline': { type: 'string', default: '120' },
    soak: { type: 'string' },
    'soak-sample': { type: 'string', default: '30' },
    targets: { type: 'string', default: 'controller,floor' },
    'enrol-concurrency': { type: 'string', default: '8' },
    'quiet-wait': { type: 'string', default: '300' },
    'quiet-threshold': { type: 'string', default: '30' },
    'noisy-retries': { type: 'string', default: '1' },
    profile: { type: 'string' },
    out: { type: 'string' },
    'max-seconds': { type: 'string', default: '3600' },
  },
});

/** A positive number flag, or exit 2 naming it. */
function num(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`error: --${flag}: "${text}" must be a number ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
}

const sizes = values.agents.split(',').map((s) => num('agents', s.trim()));
const workers = num('workers', values.workers);
const targets = values.targets.split(',').map((t) => t.trim());
if (targets.some((t) => t !== 'controller' && t !== 'floor')) {
  process.stderr.write(`error: --targets: "${values.targets}" must list controller and/or floor\n`);
  process.exit(2);
}
const maxSeconds = num('max-seconds', values['max-seconds'], 30);
if (values.storm !== undefined && values.storm !== 'kill' && values.storm !== 'term') {
  process.stderr.write(`error: --storm: "${values.storm}" must be kill or term\n`);
  process.exit(2);
}
const storm = values.storm === undefined ? null : { signal: values.storm === 'kill' ? ('SIGKILL' as const) : ('SIGTERM' as const), deadlineSeconds: num('storm-deadline', values['storm-deadline']) };
const soakSeconds = values.soak === undefined ? null : num('soak', values.soak, 60);
const startedAt = new Date();
/** Phases stop on their own a minute before the hard watchdog fires. */
const softDeadline = startedAt.getTime() + (maxSeconds - 60) * 1000;
const profileDir = values.profile === undefined ? null : resolve(values.profile);

const settings = {
  agents: sizes,
  workers,
  windowSeconds: soakSeconds ?? num('window', values.window),
  soak: soakSeconds !== null,
  soakSampleSeconds: num('soak-sample', values['soak-sample'], 5),
  storm,
  reconnectRate: num('reconnect-rate', values['reconnect-rate']),
  warmupSeconds: num('warmup', values.warmup, 0),
  connectRate: num('connect-rate', values['connect-rate']),
  maxInflight: num('max-inflight', values['max-inflight']),
  connectDeadlineSeconds: num('connect-deadline', values['connect-deadline']),
  heartbeatFlush: values['heartbeat-flush'],
  targets,
  enrolConcurrency: num('enrol-concurrency', values['enrol-concurrency']),
  quietWaitSeconds: num('quiet-wait', values['quiet-wait'], 0),
  quietThresholdPercent: num('quiet-threshold', values['quiet-threshold']),
  noisyRetries: num('noisy-retries', values['noisy-retries'], 0),
  profileDir,
  maxSeconds,
};

/** Controller ÷ floor for the figures DESIGN.md asks to judge. */
interface Ratios {
  cpuPercent: number;
  cpuPerHeartbeat: number;
  rttP50: number;
  rttP99: number;
  rssEnd: number;
  rssPeak: number;
}

interface RunResult {
  agents: number;
  workers: number;
  identities: Pick<IdentityCache, 'cached' | 'enrolSeconds' | 'enrolPerSecond'> | null;
  controller: PhaseResult | null;
  floor: PhaseResult | null;
  ratio: Ratios | null;
  /**
   * The targets at this N (issue 2, meant for 10,000: RTT p99 < 100 ms, RSS < 1 GB; issue 15: CPU ≤
   * 1.3× the floor in the same run, heartbeat-to-store p99 < 100 ms).
   */
  issueTargets: { rttP99Under100ms: boolean; rssUnder1GB: boolean; storeP99Under100ms: boolean | null; cpuAtMost1_3xFloor: boolean | null } | null;
  /** Phases rerun because other processes used the CPU during their window. */
  noisyAttempts: Array<{ target: string; otherPercent: number; rttP99: number; cpuPercent: number }>;
  problems: string[];
}

const runs: RunResult[] = [];
const tempDirs = new Set<string>();
let finished = false;

const ratio = (a: number, b: number) => (b > 0 ? Math.round((100 * a) / b) / 100 : 0);

function ratios(c: PhaseResult, f: PhaseResult): Ratios {
  return {
    cpuPercent: ratio(c.process.cpuPercent, f.process.cpuPercent),
    cpuPerHeartbeat: ratio(c.cpuUsPerHeartbeat, f.cpuUsPerHeartbeat),
    rttP50: ratio(c.window.rttMs.p50, f.window.rttMs.p50),
    rttP99: ratio(c.window.rttMs.p99, f.window.rttMs.p99),
    rssEnd: ratio(c.process.rssMbEnd, f.process.rssMbEnd),
    rssPeak: ratio(c.process.rssMbPeak, f.process.rssMbPeak),
  };
}

function document(aborted?: string) {
  return {
    benchmark: 'controller-fan-in',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    totalSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memTotalGb: Math.round(totalmem() / 2 ** 30),
      memFreeGbAtEnd: Math.round(freemem() / 2 ** 30),
      node: process.version,
      nofileSoft: softFdLimit(),
      nofileHard: hardFdLimit(),
      loadavg: loadavg().map((v) => Math.round(v * 100) / 100),
    },
    settings,
    runs,
    ...(aborted === undefined ? {} : { aborted }),
  };
}

async function emit(aborted?: string): Promise<void> {
  const text = `${JSON.stringify(document(aborted), null, 2)}\n`;
  process.stdout.write(text);
  if (values.out !== undefined) await writeFile(values.out, text);
}

async function cleanup(): Promise<void> {
  await killAllChildren();
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
}

async function abort(reason: string): Promise<never> {
  if (!finished) {
    finished = true;
    process.stderr.write(`aborting: ${reason}\n`);
    await cleanup();
    await emit(reason);
  }
  process.exit(3);
}

const watchdog = setTimeout(() => void abort(`--max-seconds ${maxSeconds} reached`), maxSeconds * 1000);
process.on('SIGINT', () => void abort('interrupted (SIGINT)'));
process.on('SIGTERM', () => void abort('terminated (SIGTERM)'));

async function runSize(n: number): Promise<RunResult> {
  const run: RunResult = { agents: n, workers, identities: null, controller: null, floor: null, ratio: null, issueTargets: null, noisyAttempts: [], problems: [] };
  runs.push(run);
  const ids = await ensureIdentities(n, { concurrency: settings.enrolConcurrency, deadline: softDeadline });
  run.identities = { cached: ids.cached, enrolSeconds: ids.enrolSeconds, enrolPerSecond: ids.enrolPerSecond };
  const tmp = await mkdtemp(join(tmpdir(), 'ballast-bench-'));
  tempDirs.add(tmp);
  try {
    // Each phase gets its own copy: a rerun controller must not start from the last one's state.
    let copies = 0;
    const freshDataDir = async (): Promise<string> => {
      copies += 1;
      const dir = join(tmp, `controller-${copies}`);
      await cp(ids.controllerDir, dir, { recursive: true });
      return dir;
    };
    const phase: PhaseSettings = {
      agents: n,
      workers,
      windowSeconds: settings.windowSeconds,
      warmupSeconds: settings.warmupSeconds,
      connectRate: settings.connectRate,
      reconnectRate: settings.reconnectRate,
      storm: settings.storm,
      soak: settings.soak,
      soakSampleSeconds: settings.soakSampleSeconds,
      maxInflight: settings.maxInflight,
      connectDeadlineSeconds: settings.connectDeadlineSeconds,
      heartbeatFlush: settings.heartbeatFlush,
      profileDir,
      deadline: softDeadline,
      identities: ids,
      dataDir: '', // set per phase
      quietWaitSeconds: settings.quietWaitSeconds,
      quietThresholdPercent: settings.quietThresholdPercent,
    };
    for (const t of targets) {
      if (Date.now() > softDeadline) {
        run.problems.push(`${t}: skipped, out of time (--max-seconds)`);
        continue;
      }
      try {
        let result = await runPhase(t === 'floor' ? 'floor' : 'controller', { ...phase, dataDir: await freshDataDir() });
        for (let retry = 0; retry < settings.noisyRetries && result.machine.otherPercent > settings.quietThresholdPercent; retry++) {
          if (Date.now() > softDeadline - 300_000) break;
          run.noisyAttempts.push({ target: t, otherPercent: result.machine.otherPercent, rttP99: result.window.rttMs.p99, cpuPercent: result.process.cpuPercent });
          process.stderr.write(`${t} n=${n}: other processes used ${result.machine.otherPercent}% CPU during the window: running it again\n`);
          const again = await runPhase(t === 'floor' ? 'floor' : 'controller', { ...phase, dataDir: await freshDataDir() });
          if (again.machine.otherPercent < result.machine.otherPercent) result = again;
          else run.noisyAttempts.push({ target: t, otherPercent: again.machine.otherPercent, rttP99: again.window.rttMs.p99, cpuPercent: again.process.cpuPercent });
        }
        if (t === 'floor') run.floor = result;
        else run.controller = result;
      } catch (err) {
        run.problems.push(`${t}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 4000));
        process.stderr.write(`${t} n=${n} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        await killAllChildren();
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    tempDirs.delete(tmp);
  }
  if (run.controller !== null && run.floor !== null) run.ratio = ratios(run.controller, run.floor);
  if (run.controller !== null) {
    const store = run.controller.controller?.storeMs;
    run.issueTargets = {
      rttP99Under100ms: run.controller.window.rttMs.p99 < 100,
      rssUnder1GB: run.controller.process.rssMbPeak < 1024,
      storeP99Under100ms: store === undefined || store.count === 0 ? null : store.p99 < 100,
      cpuAtMost1_3xFloor: run.ratio === null ? null : run.ratio.cpuPercent <= 1.3,
    };
    if (run.controller.connect.failed > 0) run.problems.push(`controller: ${run.controller.connect.failed} agents never connected`);
  }
  return run;
}

async function main(): Promise<void> {
  await mkdir(BENCH_OUT, { recursive: true });
  if (profileDir !== null) await mkdir(profileDir, { recursive: true });
  const need = Math.max(...sizes) / workers + 200;
  if (hardFdLimit() < need) process.stderr.write(`warning: hard fd limit ${hardFdLimit()} < ${Math.ceil(need)} sockets per worker: add --workers\n`);
  for (const n of sizes) {
    if (Date.now() > softDeadline) {
      runs.push({ agents: n, workers, identities: null, controller: null, floor: null, ratio: null, issueTargets: null, noisyAttempts: [], problems: ['skipped: out of time (--max-seconds)'] });
      continue;
    }
    try {
      await runSize(n);
    } catch (err) {
      const last = runs[runs.length - 1];
      const message = err instanceof Error ? err.message : String(err);
      if (last !== undefined && last.agents === n) last.problems.push(message.slice(0, 4000));
      process.stderr.write(`n=${n} failed: ${message}\n`);
      await killAllChildren();
    }
  }
  finished = true;
  clearTimeout(watchdog);
  await cleanup();
  await emit();
}

main().catch((err: unknown) => void abort(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
