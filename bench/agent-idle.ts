/**
 * Agent idle benchmark (issue 15: "Idle RSS median ≤ 55 MB and CPU ≤ 0.3% over 60 s, measured with
 * the packaged runtime"; issue 2 had 60 MB and 0.5%). Starts a controller, joins one real agent through `ballast-agent join`, runs
 * `ballast-agent run`, waits until the controller reports the host healthy, lets it settle, then
 * samples the agent process's RSS every second and its CPU over the window. JSON on stdout.
 *
 *   npm run build && node dist/bench/agent-idle.js [--window 60] [--settle 5]
 *     [--agent-node-flags="--lite-mode --max-semi-space-size=1"]  (node/V8 flags for the agent only; note the =)
 *     [--runtime packaged|current|auto|PATH]  (default packaged: the .deb's node with the unit's flags, lib/agent-runtime.ts)
 *     [--agent-script FILE]  (default dist/agent-bundle/main.js, what the package ships and the unit
 *                             runs; e.g. dist/agent/src/main.js for the unbundled tsc output)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchController, startController } from './lib/controller.js';
import { benchArgs, usageError } from './lib/args.js';
import { stringField } from './lib/http.js';
import { BIN, type Child, isGone, killAllChildren, ROOT, sleep, spawnNode, stopChild } from './lib/proc.js';
import { resolveAgentRuntime } from './lib/agent-runtime.js';
import { MachineSampler, ProcessSampler } from './lib/sampler.js';

const TARGET_RSS_MB = 55;
const TARGET_CPU_PERCENT = 0.3;
/** The agent as packaged (scripts/package.sh copies dist/agent-bundle to lib/agent). */
const AGENT_BUNDLE = join(ROOT, 'dist', 'agent-bundle', 'main.js');
const HOST = 'idle-agent';

const USAGE = `usage: node dist/bench/agent-idle.js [options]

An enrolled, connected, idle agent's RSS (median of 1 s samples) and CPU over a window, against the
targets (≤ ${TARGET_RSS_MB} MB, ≤ ${TARGET_CPU_PERCENT}%); JSON on stdout.

  --window S               measurement window in seconds (default 60)
  --settle S               seconds between "healthy" and the window (default 5)
  --max-seconds S          hard bound on the whole run (default 300)
  --runtime R              packaged (default: the .deb's node with the unit's flags), current (this
                           node, no flags), auto, or a PATH to a node binary
  --agent-node-flags=F     extra node/V8 flags for the agent only (note the =)
  --agent-script FILE      default dist/agent-bundle/main.js (what the package ships)`;

const { values } = benchArgs(USAGE, {
  options: {
    window: { type: 'string', default: '60' },
    settle: { type: 'string', default: '5' },
    'max-seconds': { type: 'string', default: '300' },
    'agent-node-flags': { type: 'string', default: '' },
    runtime: { type: 'string', default: 'packaged' },
    'agent-script': { type: 'string' },
  },
});
const windowSeconds = Number(values.window);
const settleSeconds = Number(values.settle);
const maxSeconds = Number(values['max-seconds']);
const extraNodeFlags = values['agent-node-flags'].split(/\s+/).filter((f) => f !== '');
const runtime = resolveAgentRuntime(values.runtime);
const agentNodeFlags = [...runtime.flags, ...extraNodeFlags];
if (![windowSeconds, settleSeconds, maxSeconds].every((n) => Number.isFinite(n) && n >= 0) || windowSeconds < 1) {
  usageError('--window, --settle and --max-seconds take seconds (window ≥ 1)');
}

/** The host's state as GET /v1/hosts reports it, or null when not listed. */
async function hostState(controller: BenchController): Promise<string | null> {
  const list = (await controller.api.json('GET', '/v1/hosts')) as { items?: Array<{ name?: unknown; state?: unknown }> };
  const host = list.items?.find((h) => h.name === HOST);
  return typeof host?.state === 'string' ? host.state : null;
}

async function waitExit(child: Child, timeoutMs: number): Promise<string> {
  const code = await Promise.race([child.exited, sleep(timeoutMs).then(() => 'timeout')]);
  if (code === 'timeout') await stopChild(child, 2000);
  return code;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'ballast-agent-idle-'));
  const watchdog = setTimeout(() => {
    process.stderr.write(`aborting: --max-seconds ${maxSeconds} reached\n`);
    void killAllChildren().then(() => rm(tmp, { recursive: true, force: true }).finally(() => process.exit(3)));
  }, maxSeconds * 1000);
  let controller: BenchController | null = null;
  let agent: Child | null = null;
  try {
    controller = await startController({ dataDir: join(tmp, 'controller') });
    const created = await controller.api.json('POST', '/v1/tokens', { ttlSeconds: 600, uses: 1 });
    const agentDir = join(tmp, 'agent');
    const join_ = spawnNode(
      BIN('ballast-agent'),
      ['join', '--server', controller.url, '--token', stringField(created, 'token'), '--ca-hash', stringField(created, 'caHash'), '--name', HOST, '--data-dir', agentDir, '--no-start'],
      { name: 'agent-join' },
    );
    const joinCode = await waitExit(join_, 30_000);
    if (joinCode !== '0') throw new Error(`ballast-agent join exited ${joinCode}:\n${join_.tail()}`);

    const startedAt = Date.now();
    agent = spawnNode(values['agent-script'] ?? AGENT_BUNDLE, ['run', '--data-dir', agentDir, '--log-level', 'warn'], { name: 'agent', node: runtime.node, nodeArgs: agentNodeFlags, env: runtime.env });
    let state: string | null = null;
    while (state !== 'healthy') {
      if (isGone(agent)) throw new Error(`agent exited:\n${agent.tail()}`);
      if (Date.now() - startedAt > 60_000) throw new Error(`host not healthy within 60 s (state ${state}):\n${agent.tail()}`);
      await sleep(200);
      state = await hostState(controller);
    }
    const timeToHealthySeconds = (Date.now() - startedAt) / 1000;
    process.stderr.write(`agent healthy after ${timeToHealthySeconds.toFixed(1)} s; settling ${settleSeconds} s, then measuring ${windowSeconds} s\n`);
    await sleep(settleSeconds * 1000);

    // A bare idle node process alongside, for scale: what the runtime costs before any agent code.
    const bare = spawnNode('-e', ['setInterval(() => {}, 1000)'], { name: 'bare-node', node: runtime.node });
    await sleep(1000);
    const bareSampler = new ProcessSampler(bare.pid, 1000);
    const machine = new MachineSampler();
    const sampler = new ProcessSampler(agent.pid, 1000);
    const windowEnd = Date.now() + windowSeconds * 1000;
    while (Date.now() < windowEnd) {
      if (isGone(agent)) throw new Error(`agent exited during the window:\n${agent.tail()}`);
      await sleep(Math.min(1000, windowEnd - Date.now()));
    }
    const w = sampler.stop();
    const m = machine.stop();
    const b = bareSampler.stop();
    await stopChild(bare, 2000);
    const stateAtEnd = await hostState(controller);
    const childCpuPercent = Math.round((10_000 * w.childCpuSeconds) / w.seconds) / 100;
    const doc = {
      benchmark: 'agent-idle',
      runtime: { kind: runtime.kind, node: runtime.node, version: runtime.version, env: runtime.env },
      agentNodeFlags,
      agentScript: values['agent-script'] ?? AGENT_BUNDLE,
      windowSeconds: w.seconds,
      rssMbMedian: w.rssMbMedian,
      rssMbMax: w.rssMbPeak,
      rssMbEnd: w.rssMbEnd,
      rssMbLifetimePeak: w.rssMbLifetimePeak,
      cpuPercent: w.cpuPercent,
      cpuSeconds: w.cpuSeconds,
      /** CPU of programs the agent ran and reaped during the window (systeminformation helpers). */
      childCpuPercent,
      samples: w.samples,
      bareNodeRssMb: b.rssMbMedian,
      bareNodeCpuPercent: b.cpuPercent,
      timeToHealthySeconds: Math.round(timeToHealthySeconds * 10) / 10,
      hostStateAtEnd: stateAtEnd,
      targets: { rssMb: TARGET_RSS_MB, cpuPercent: TARGET_CPU_PERCENT },
      pass: {
        rss: w.rssMbMedian <= TARGET_RSS_MB,
        cpu: w.cpuPercent + childCpuPercent <= TARGET_CPU_PERCENT,
      },
      machine: { cpus: cpus().length, node: process.version, loadavg: loadavg().map((v) => Math.round(v * 100) / 100), windowBusyPercent: m.busyPercent, windowStealPercent: m.stealPercent },
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    clearTimeout(watchdog);
    if (agent !== null) await stopChild(agent, 10_000);
    if (controller !== null) {
      controller.api.close();
      await stopChild(controller.child, 15_000);
    }
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  await killAllChildren();
  process.exit(1);
});
