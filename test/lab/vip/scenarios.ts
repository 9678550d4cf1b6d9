/**
 * The VIP chaos scenarios and the round runner. A scenario prepares (outside the measured window),
 * then injects its fault, waits until the VIP has recovered and undoes the fault, all bounded; the
 * runner waits for the steady state, measures the window from just before the fault to the steady
 * state after the undo, and analyses the client's and the sampler's traces in it.
 */
import { join } from 'node:path';
import type { VipStatusResponse } from '../../../shared/src/vip-api.js';
import { sleep, waitUntil } from '../tool/exec.js';
import { analyseWindow, type WindowAnalysis } from './analysis.js';
import { killUnit, powerCut, powerOn } from './faults.js';
import { applyRole, type VipLab, type VipSystem } from './setup.js';

/** What a scenario gets: the lab, the round number and a place for facts worth reporting. */
export interface ScenarioContext {
  vl: VipLab;
  round: number;
  /** The holder when the round started. */
  holder: string;
  notes: Record<string, string | number | boolean>;
}

/** One chaos scenario. */
export interface Scenario {
  id: string;
  title: string;
  /** Which keepers it applies to. */
  systems: readonly VipSystem[];
  /** The largest acceptable client gap for this round (may depend on the notes, e.g. who led etcd). */
  boundMs(notes: ScenarioContext['notes']): number;
  /** Not measured: e.g. moving the etcd leader away from the holder. */
  prepare?(ctx: ScenarioContext): Promise<void>;
  /** Fault, wait for recovery, undo. Measured. */
  run(ctx: ScenarioContext): Promise<void>;
}

/** One measured round. */
export interface RoundResult {
  scenario: string;
  system: VipSystem;
  round: number;
  holderBefore: string;
  boundMs: number;
  notes: ScenarioContext['notes'];
  windowMs: number;
  analysis: WindowAnalysis;
}

/** How long a failover may take at most before a scenario gives up waiting (then the round fails). */
const FAILOVER_WAIT_MS = 20_000;
const STEADY_WAIT_MS = 60_000;

/** Waits for a holder other than `old` (the VIP moved), bounded. */
async function waitMoved(ctx: ScenarioContext): Promise<string> {
  const h = await ctx.vl.waitHolder(FAILOVER_WAIT_MS, ctx.holder);
  ctx.notes.newHolder = h;
  return h;
}

/** Hands etcd leadership away from the holder (DESIGN: keep them apart); noted for the report. */
async function leaderAway(ctx: ScenarioContext): Promise<void> {
  ctx.notes.leaderMovedAway = await ctx.vl.moveEtcdLeaderAwayFrom(ctx.holder);
}

/** Does `ballastctl vip move` exist in the controller package the lab runs? Asked once per lab. */
const vipCli = new WeakMap<VipLab, boolean>();
async function hasVipMove(vl: VipLab): Promise<boolean> {
  let known = vipCli.get(vl);
  if (known === undefined) {
    const r = await vl.lab.ctl(['vip', 'move', '--help'], { allowFail: true });
    known = r.code === 0 && /--to\b/.test(r.stdout + r.stderr);
    vipCli.set(vl, known);
  }
  return known;
}

export const killAgent: Scenario = {
  id: 'kill-agent',
  title: "kill -9 of the holder's agent",
  systems: ['ballast'],
  boundMs: () => 4000,
  async run(ctx) {
    ctx.notes.pid = await killUnit(ctx.vl, ctx.holder, 'ballast-agent', 'KILL');
    // systemd restarts it (RestartSec=1); the VIP may come back to the same host: only recovery counts.
    await ctx.vl.waitSteady(STEADY_WAIT_MS);
  },
};

export const powerOffHolder: Scenario = {
  id: 'power-off',
  title: "power cut of the holder's host (then power on)",
  systems: ['ballast', 'keepalived'],
  boundMs: () => 4000,
  prepare: leaderAway,
  async run(ctx) {
    await powerCut(ctx.vl, ctx.holder);
    await waitMoved(ctx);
    await powerOn(ctx.vl, ctx.holder);
  },
};

export const sigstopAgent: Scenario = {
  id: 'sigstop',
  title: "SIGSTOP of the holder's agent for 5 s (then SIGCONT)",
  systems: ['ballast'],
  boundMs: () => 4000,
  async run(ctx) {
    const pid = await killUnit(ctx.vl, ctx.holder, 'ballast-agent', 'STOP');
    ctx.notes.pid = pid;
    await sleep(5000);
    await ctx.vl.lab.exec(ctx.holder, ['kill', '-CONT', String(pid)], { allowFail: true });
    // The watchdog (WatchdogSec=6, pinged every 3 s) may have killed it meanwhile; either is fine.
    ctx.notes.watchdogRestart = (await ctx.vl.mainPid(ctx.holder, 'ballast-agent')) !== pid;
  },
};

export const partitionHolder: Scenario = {
  id: 'partition',
  title: "holder's switch port down for 6 s (then up)",
  systems: ['ballast', 'keepalived'],
  // A partitioned holder that also leads etcd needs an etcd election on the majority side before
  // anyone can write; prepare moves the leader away, so 6 s leaves ample room.
  boundMs: () => 6000,
  prepare: leaderAway,
  async run(ctx) {
    const t0 = Date.now();
    await ctx.vl.lab.partition(ctx.holder);
    try {
      await waitMoved(ctx);
      await sleep(Math.max(0, 6000 - (Date.now() - t0)));
    } finally {
      await ctx.vl.lab.heal(ctx.holder);
    }
  },
};

export const healthFails: Scenario = {
  id: 'health-fails',
  title: "health check failing on the holder (etcd stopped there, then started)",
  systems: ['ballast'],
  boundMs: () => 4000,
  prepare: leaderAway,
  async run(ctx) {
    // The service behind the VIP is etcd itself: stopping it fails the holder's health check and
    // takes that host's copy of the service away, so the VIP must move. Held down for the round:
    // otherwise the agent's unit supervisor restarts etcd within a second or two, the old holder's
    // check passes again, and being a healthy candidate it may delete its own stale key and win
    // the VIP back before the others' 2 s hold timeout runs out — a test of the supervisor, not of
    // the failover (it failed CI that way). A runtime mask does not hold it: the unit file lives in
    // /etc/systemd/system, which outranks a mask in /run/systemd/system, so `systemctl restart`
    // simply started it. A runtime drop-in whose condition never holds does: drop-ins of every
    // directory are merged, and a unit whose condition fails stays inactive whoever starts it.
    await ctx.vl.lab.exec(ctx.holder, ['mkdir', '-p', HOLD_DIR]);
    await ctx.vl.lab.exec(ctx.holder, ['sh', '-c', `printf '[Unit]\\nConditionPathExists=/nonexistent/ballast-chaos-hold\\n' > ${HOLD_DROPIN}`]);
    await ctx.vl.lab.exec(ctx.holder, ['systemctl', 'daemon-reload']);
    try {
      await stopUnit(ctx.vl, ctx.holder, 'etcd');
      await waitMoved(ctx);
    } finally {
      await ctx.vl.lab.exec(ctx.holder, ['rm', '-f', HOLD_DROPIN], { allowFail: true });
      await ctx.vl.lab.exec(ctx.holder, ['systemctl', 'daemon-reload'], { allowFail: true });
      await ctx.vl.lab.exec(ctx.holder, ['systemctl', 'start', 'etcd'], { timeoutMs: 60_000 });
    }
  },
};

/** A runtime drop-in that keeps etcd from starting during the health-failure round (see there). */
const HOLD_DIR = '/run/systemd/system/etcd.service.d';
const HOLD_DROPIN = `${HOLD_DIR}/ballast-chaos-hold.conf`;

export const killEtcdLeader: Scenario = {
  id: 'etcd-leader-kill',
  title: 'etcd leader killed (kill -9) while the VIP is held',
  systems: ['ballast'],
  // Leader = holder: the holder's own member dies; the survivors need an election (1–2 s with the
  // default 1 s election timeout and its randomisation) before the stale holder key can be deleted;
  // the hold timeout (2 s) runs meanwhile, counted from the last heartbeat the candidates saw. With
  // the lease-based first design this took 4.3–5.7 s (lease promotion extended the dead holder's
  // lease by a TTL plus an election timeout); the 7 s bound is kept from then.
  boundMs: (notes) => (notes.leaderWasHolder === true ? 7000 : 4000),
  async prepare(ctx) {
    // Odd rounds: the holder leads etcd (moved there); even rounds: another member does.
    const members = await ctx.vl.etcdMembers();
    const leader = members.find((m) => m.leader);
    const wantHolder = ctx.round % 2 === 1;
    if (leader && wantHolder !== (leader.host === ctx.holder)) {
      const target = wantHolder ? members.find((m) => m.host === ctx.holder) : members.find((m) => m.host !== ctx.holder && !m.leader);
      if (target) {
        await ctx.vl.etcdctl(['move-leader', target.id], { endpoints: [`https://${ctx.vl.lab.host(leader.host).address}:2379`] });
        await waitUntil('the etcd leader to move', async () => ((await ctx.vl.etcdLeader()) === target.host ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
      }
    }
  },
  async run(ctx) {
    const leader = await ctx.vl.etcdLeader();
    if (leader === null) throw new Error('failed to find the etcd leader');
    ctx.notes.etcdLeader = leader;
    ctx.notes.leaderWasHolder = leader === ctx.holder;
    await killUnit(ctx.vl, leader, 'etcd', 'KILL');
    // etcd.service restarts it after RestartSec=5; the steady wait includes its return.
    await ctx.vl.waitSteady(STEADY_WAIT_MS);
  },
};

export const gracefulMove: Scenario = {
  id: 'move',
  title: 'graceful move (ballastctl vip move; keepalived: stop it on the holder)',
  systems: ['ballast', 'keepalived'],
  boundMs: () => 500,
  async prepare(ctx) {
    // The controller asks the holder's agent to hand over, so it must see the holder connected (after
    // a keeper switch the agents are only just reconnecting).
    if (ctx.vl.system !== 'ballast' || !(await hasVipMove(ctx.vl))) return;
    await waitUntil(
      `the controller to report ${ctx.holder} as the VIP holder`,
      async () => {
        const r = await ctx.vl.lab.ctl(['vip', 'status', '-o', 'json'], { allowFail: true });
        if (r.code !== 0) return undefined;
        const status = JSON.parse(r.stdout) as VipStatusResponse;
        const view = status.items[0];
        return view?.holder === ctx.holder && view.candidates.filter((c) => c.reachable && c.healthy).length === ctx.vl.hosts.length ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  },
  async run(ctx) {
    const { vl } = ctx;
    const target = vl.hosts[(vl.hosts.indexOf(ctx.holder) + 1) % vl.hosts.length]!;
    if (vl.system === 'keepalived') {
      // keepalived's graceful path: SIGTERM makes the master send priority 0, a backup takes over.
      await vl.lab.exec(ctx.holder, ['systemctl', 'stop', 'keepalived']);
      await waitMoved(ctx);
      await vl.lab.exec(ctx.holder, ['systemctl', 'start', 'keepalived']);
      return;
    }
    if (await hasVipMove(vl)) {
      ctx.notes.via = 'ballastctl vip move';
      await vl.lab.ctl(['vip', 'move', '--to', target], { timeoutMs: 30_000 });
      await vl.waitHolder(FAILOVER_WAIT_MS, ctx.holder);
      return;
    }
    // Until `ballastctl vip move` exists: the holder stops being a candidate (a graceful handover
    // through the vip role), then becomes one again.
    ctx.notes.via = 'apply vip candidate:false';
    const file = join(vl.workDir, 'vip-move.yaml');
    await applyRole(vl.lab, 'vip', [ctx.holder], file, { ...vl.vipVars, candidate: false });
    await waitMoved(ctx);
    await applyRole(vl.lab, 'vip', [ctx.holder], file, vl.vipVars);
  },
};

export const controllerDownCrash: Scenario = {
  id: 'controller-down-crash',
  title: "controller stopped, then kill -9 of the holder's agent",
  systems: ['ballast'],
  boundMs: () => 4000,
  async prepare(ctx) {
    await ctx.vl.lab.stopController();
  },
  async run(ctx) {
    try {
      ctx.notes.pid = await killUnit(ctx.vl, ctx.holder, 'ballast-agent', 'KILL');
      await ctx.vl.waitSteady(STEADY_WAIT_MS);
    } finally {
      await ctx.vl.lab.startController();
    }
  },
};

/**
 * `systemctl stop` that insists: a stop job is cancelled when a start job for the unit arrives at the
 * same moment (the agent's component supervisor restarting it), so it is retried a few times.
 */
async function stopUnit(vl: VipLab, host: string, unit: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await vl.lab.exec(host, ['systemctl', 'stop', unit], { allowFail: true });
    if (r.code === 0) return;
    if (attempt >= 5) throw new Error(`failed to stop ${unit} on ${host}: ${r.stderr.trim()}`);
    await sleep(200);
  }
}

/** Every chaos scenario, in the order the suite runs them. */
export const CHAOS_SCENARIOS: readonly Scenario[] = [
  killAgent,
  powerOffHolder,
  sigstopAgent,
  partitionHolder,
  healthFails,
  killEtcdLeader,
  gracefulMove,
  controllerDownCrash,
];

/** Runs one round of `scenario` on the running keeper and analyses it. */
export async function runRound(vl: VipLab, scenario: Scenario, round: number): Promise<RoundResult> {
  const holder = await vl.waitSteady(STEADY_WAIT_MS);
  const ctx: ScenarioContext = { vl, round, holder, notes: {} };
  if (scenario.prepare) await scenario.prepare(ctx);
  // Candidates need their health check to have risen (2 × 200 ms) after any earlier disturbance.
  await sleep(1000);
  const holderBefore = await vl.waitHolder(5000);
  ctx.holder = holderBefore;
  const from = Date.now();
  try {
    await bounded(scenario.run(ctx), 120_000, `${scenario.id} round ${round}`);
  } catch (err) {
    // Say what the samplers saw in the failed round: a VIP that never moved and one on two hosts are different failures.
    const seen = analyseWindow({ probes: vl.tracers.probes(), samples: vl.tracers.samples(), window: { from, to: Date.now() } });
    // The agents' own account of the round, on stdout (CI shows it next to the failure).
    for (const h of vl.hosts.filter((n) => vl.reachable(n))) {
      const j = await vl.lab.exec(h, ['journalctl', '-q', '-o', 'cat', '--no-pager', '-u', 'ballast-agent', '--since', `@${Math.floor(from / 1000) - 5}`], { allowFail: true, timeoutMs: 30_000 });
      const lines = j.stdout.split('\n').filter((l) => /vip|VIP|etcd|health/.test(l)).slice(-40);
      console.log(`--- ${h}: ballast-agent during the failed round (${lines.length} lines) ---\n${lines.join('\n')}`);
    }
    const what = `dual samples ${seen.dualSamples}${seen.dualSamples > 0 ? ` ${JSON.stringify(seen.duals.slice(0, 3))}` : ''}, holders seen ${seen.holders.join(',') || 'none'}, longest gap ${Math.round(seen.longestGapMs)} ms`;
    throw new Error(`${scenario.id} round ${round} (holder ${holderBefore}) failed: ${err instanceof Error ? err.message : String(err)} — ${what}`);
  }
  await vl.waitSteady(STEADY_WAIT_MS);
  await sleep(300);
  const to = Date.now();
  const analysis = analyseWindow({ probes: vl.tracers.probes(), samples: vl.tracers.samples(), window: { from, to } });
  return { scenario: scenario.id, system: vl.system, round, holderBefore, boundMs: scenario.boundMs(ctx.notes), notes: ctx.notes, windowMs: to - from, analysis };
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line per round for logs. */
export function describeRound(r: RoundResult): string {
  const a = r.analysis;
  const notes = Object.entries(r.notes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${r.system.padEnd(10)} ${r.scenario.padEnd(22)} #${r.round} gap ${a.longestGapMs.toFixed(0).padStart(5)} ms (bound ${r.boundMs}) dual ${a.dualSamples} holder ${r.holderBefore}→${a.finalHolder} samples ${a.samples} period p50/p99/max ${a.samplePeriodMs.p50}/${a.samplePeriodMs.p99}/${a.samplePeriodMs.max} ms ${notes}`;
}
