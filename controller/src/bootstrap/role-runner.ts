/**
 * Runs a role on hosts for an operation step and waits for the outcome: one run per host (each
 * host gets its own vars — certificates differ per member), all in parallel, through the same run
 * orchestrator `ballastctl apply` uses, so every task result is stored and visible with
 * `ballastctl run ID`. A host whose agent is still busy with a run the controller lost (after a
 * restart) is retried until the step's deadline: the reconnecting agent is told to cancel that run.
 */
import { BallastError, type ErrorCode, isBallastError, isErrorCode, messageOf } from '../../../shared/src/errors.js';
import type { Recap, RunDocument } from '../../../shared/src/runs-api.js';

/** The part of the run orchestrator an operation needs. */
export interface RunStarter {
  start(request: { role: string; hosts: string[]; check: boolean; diff: boolean; vars: Record<string, unknown> }, actor: string): RunDocument;
  get(id: string): RunDocument;
  waitForChange(id: string, after: number, waitMs: number, signal?: AbortSignal): Promise<void>;
  cancel(id: string, actor: string): Promise<RunDocument>;
}

/** One host's part of a role step. */
export interface HostRun {
  host: string;
  vars: Record<string, unknown>;
}

/** How a host's run ended. */
export interface HostRunOutcome {
  host: string;
  runId: string;
  recap: Recap;
  /** Names of the tasks that changed (or in check mode would change) something. */
  changes: string[];
  check: boolean;
}

/** What {@link runRole} needs. */
export interface RunRoleOptions {
  runs: RunStarter;
  role: string;
  hosts: HostRun[];
  check: boolean;
  /** Record file diffs in the runs (default: in check mode only). */
  diff?: boolean;
  signal: AbortSignal;
  /** Recorded as the run's creator: `op-…`. */
  actor: string;
  /** Live progress for the operation's follower. */
  progress?: (message: string) => void;
  /** Pause between attempts to start a run on a busy or disconnected host (default 1 s). */
  retryMs?: number;
}

/**
 * Codes that mean "try again shortly": the host is busy with another run or not connected yet (the
 * run could not start, runs/plan.ts), or the agent refused as busy. Decided on codes, never on text.
 */
const RETRIABLE: readonly ErrorCode[] = ['BALLAST_ERR_HOST_BUSY', 'BALLAST_ERR_HOST_NOT_CONNECTED', 'BALLAST_ERR_RUN_BUSY'];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Starts `role` on one host, retrying while the controller refuses the start as busy or disconnected. */
async function startOnHost(opts: RunRoleOptions, h: HostRun, retryMs: number): Promise<RunDocument> {
  for (;;) {
    try {
      return opts.runs.start({ role: opts.role, hosts: [h.host], check: opts.check, diff: opts.diff ?? opts.check, vars: h.vars }, opts.actor);
    } catch (err) {
      if (!isBallastError(err, ...RETRIABLE)) throw err;
      opts.progress?.(`${h.host}: waiting for the host to be free (${messageOf(err)})`);
      await sleep(retryMs, opts.signal);
    }
  }
}

/** Waits for a run to end; cancels it if `signal` aborts. */
async function waitForEnd(opts: RunRoleOptions, started: RunDocument): Promise<RunDocument> {
  let doc = started;
  try {
    while (doc.status === 'running') {
      if (opts.signal.aborted) throw opts.signal.reason;
      await opts.runs.waitForChange(doc.id, doc.seq, 5000, opts.signal);
      doc = opts.runs.get(doc.id);
    }
  } catch (err) {
    await opts.runs.cancel(doc.id, opts.actor).catch(() => undefined);
    throw err;
  }
  return doc;
}

/**
 * True when the agent refused the run before running any task because it was still busy (or went
 * away): after a controller restart the agent may still be finishing, or cancelling, the run the
 * old controller started — `kubeadm join` can take a minute to stop. Retried like a busy start.
 */
function refusedAsBusy(doc: RunDocument): boolean {
  const host = doc.hosts[0];
  if (doc.status === 'succeeded' || host === undefined || host.results.length > 0) return false;
  const code = host.error?.code;
  return isErrorCode(code) && RETRIABLE.includes(code);
}

/** Runs `role` on one host until it ends; retries while the host is busy. Cancels the run if `signal` aborts. */
async function runOnHost(opts: RunRoleOptions, h: HostRun): Promise<HostRunOutcome> {
  const retryMs = opts.retryMs ?? 1000;
  let doc = await waitForEnd(opts, await startOnHost(opts, h, retryMs));
  // Each refused start is a stored (failed) run: back off to 8× the pause so a long wait leaves few.
  for (let attempt = 0; refusedAsBusy(doc); attempt++) {
    opts.progress?.(`${h.host}: waiting for the host to be free (${doc.hosts[0]?.error?.message ?? doc.status})`);
    await sleep(retryMs * Math.min(8, 2 ** attempt), opts.signal);
    doc = await waitForEnd(opts, await startOnHost(opts, h, retryMs));
  }
  const id = doc.id;
  const host = doc.hosts[0];
  if (host === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', `run ${id} has no host`);
  if (doc.status !== 'succeeded') {
    const failed = host.results.find((r) => r.status === 'failed');
    const why = failed !== undefined ? `task [${failed.name}] failed: ${failed.error?.message ?? failed.message}` : (host.error?.message ?? `run ${doc.status}`);
    const code = failed?.error?.code ?? host.error?.code;
    throw new BallastError(isErrorCode(code) ? code : 'BALLAST_ERR_RUN_FAILED', `${opts.role} on ${h.host} ${doc.status} (${id}): ${why}`);
  }
  const changes = host.results.filter((r) => r.status === 'changed').map((r) => r.name);
  return { host: h.host, runId: id, recap: host.recap, changes, check: opts.check };
}

/**
 * Runs `role` on every host in parallel and waits for all of them. Throws one error listing every
 * host that failed (with its first failing task), after all have ended — so one bad host does not
 * leave the others' outcome unknown.
 */
export async function runRole(opts: RunRoleOptions): Promise<HostRunOutcome[]> {
  const settled = await Promise.allSettled(opts.hosts.map((h) => runOnHost(opts, h)));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failures.length > 0) {
    if (opts.signal.aborted) throw opts.signal.reason;
    const first = failures[0];
    const code = isBallastError(first) ? first.code : 'BALLAST_ERR_RUN_FAILED';
    const n = failures.length;
    const prefix = opts.hosts.length > 1 ? `${n} of ${opts.hosts.length} hosts failed: ` : '';
    throw new BallastError(code, `${prefix}${failures.map(messageOf).join('; ')}`);
  }
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}

/**
 * `ok=3 changed=2` summed over hosts, for step messages; in check mode followed by the per-host
 * plan — which tasks would change what on which host — so `cluster create --check` prints it all.
 */
export function recapText(outcomes: readonly HostRunOutcome[]): string {
  const sums = sumText(outcomes);
  const plan = outcomes.filter((o) => o.check && o.changes.length > 0).map((o) => `${o.host}: ${o.changes.join(', ')}`);
  return plan.length === 0 ? sums : `${sums}; would change — ${plan.join('; ')}`;
}

function sumText(outcomes: readonly HostRunOutcome[]): string {
  const sum = { ok: 0, changed: 0, failed: 0, skipped: 0 };
  for (const o of outcomes) {
    sum.ok += o.recap.ok;
    sum.changed += o.recap.changed;
    sum.failed += o.recap.failed;
    sum.skipped += o.recap.skipped;
  }
  return `ok=${sum.ok} changed=${sum.changed} failed=${sum.failed} skipped=${sum.skipped}`;
}
