/**
 * Runs a role on hosts now: validate and render everything first, persist the run before anything
 * is sent, then send `req.run` to every host in parallel (each agent runs its tasks in order),
 * record each `run.event` and the final summary, and finish the run when the last host settles.
 * A run is never resumed: one that was in flight when the controller stopped is `interrupted`, and
 * its agents are told to cancel it when they reconnect (re-applying is safe: tasks are idempotent;
 * resumable work is an operation, see controller/src/ops).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';
import type { RunEvent } from '../../../shared/src/protocol/messages.js';
import {
  isRunFinished,
  type RunCreateRequest,
  type RunDocument,
  type RunHostStatus,
  type RunListItem,
  type RunProgress,
  type RunStatus,
} from '../../../shared/src/runs-api.js';
import type { RunEventPort } from '../hub/agent-session.js';
import { ChangeWaiters } from '../store/change-waiters.js';
import { runDocument, runListItem, runProgress } from './document.js';
import { type PreparedHost, prepareRun, type RoleRenderer } from './plan.js';
import type { RunEventLogPort, RunSessionPort, RunTargetPort } from './ports.js';
import type { RunRepo } from './repo.js';
import type { RunRecord, StoredError, StoredPlanTask } from './records.js';
import { hideSecretDiff } from '../../../shared/src/tasks/secrets.js';


/** Options of {@link RunOrchestrator}. */
export interface RunOrchestratorOptions {
  repo: RunRepo;
  targets: RunTargetPort;
  render: RoleRenderer;
  /** The vars as they may be stored and shown (secrets redacted). */
  redact: (role: string, vars: Record<string, unknown>) => Record<string, unknown>;
  events: RunEventLogPort;
  log: Logger;
  /** Deadline of one host's whole run (default 30 min). */
  runTimeoutMs?: number;
  /** Deadline of a req.cancel (default 5 s). */
  cancelTimeoutMs?: number;
  /** Finished runs kept in the store (default 1000). */
  keepRuns?: number;
}

interface ActiveHost {
  id: string;
  session: RunSessionPort;
  plan: Map<string, StoredPlanTask>;
  running: boolean;
}

interface ActiveRun {
  id: string;
  role: string;
  hosts: Map<string, ActiveHost>;
  cancelRequested: boolean;
}

const planKey = (phase: string, index: number): string => `${phase}/${index}`;

/** The run service behind /v1/runs, and the hub's sink for run events. */
export class RunOrchestrator implements RunEventPort {
  private readonly active = new Map<string, ActiveRun>();
  /** Host name → run id: one run per host at a time (the agent refuses a second anyway). */
  private readonly busy = new Map<string, string>();
  private readonly waiters = new ChangeWaiters();
  /**
   * Host name → runs the agent may still be executing though the controller gave up on them (the
   * controller restarted, or the agent disconnected mid-run). The agent keeps running a run when its
   * session drops — a half-finished task is worse than a finished one — so when it reconnects it is
   * told to cancel what nobody is waiting for any more, and is free for the next run sooner.
   */
  private readonly orphans = new Map<string, Set<string>>();
  private readonly log: Logger;
  private closing = false;

  constructor(private readonly opts: RunOrchestratorOptions) {
    this.log = opts.log.child({ component: 'runs' });
  }

  /** Marks runs left `running` by a previous controller process as interrupted. Call once at start. */
  recover(): string[] {
    for (const { runId, hostName } of this.opts.repo.unfinishedHosts()) this.addOrphan(hostName, runId);
    const ids = this.opts.repo.interruptRunning();
    for (const id of ids) {
      this.opts.events.append({ host: null, kind: 'run.interrupted', message: `${id} was in flight when the controller stopped; apply again to finish`, data: { run: id } });
    }
    if (ids.length > 0) this.log.warn({ runs: ids }, 'marked runs interrupted by a controller restart');
    return ids;
  }

  /** Validates, persists and dispatches a run; returns its document (status running). */
  start(request: RunCreateRequest, actor: string): RunDocument {
    if (this.closing) throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'failed to start run: the controller is shutting down');
    const id = `run-${randomBytes(6).toString('hex')}`;
    const timeoutMs = this.opts.runTimeoutMs ?? 30 * 60_000;
    const prepared = prepareRun({ runId: id, request, targets: this.opts.targets, render: this.opts.render, busy: this.busy, timeoutMs });
    // Persist before dispatch: a crash after this point leaves a run that recover() marks interrupted.
    this.opts.repo.create({
      id,
      role: request.role,
      check: request.check,
      diff: request.diff,
      vars: this.opts.redact(request.role, request.vars),
      createdBy: actor,
      hosts: prepared.map((p) => ({ name: p.target.name, hostId: p.target.id, plan: p.plan })),
    });
    const run: ActiveRun = { id, role: request.role, hosts: new Map(), cancelRequested: false };
    for (const p of prepared) {
      run.hosts.set(p.target.name, {
        id: p.target.id,
        session: p.session,
        plan: new Map(p.plan.map((t) => [planKey(t.phase, t.index), t])),
        running: true,
      });
      this.busy.set(p.target.name, id);
    }
    this.active.set(id, run);
    const names = prepared.map((p) => p.target.name);
    const mode = request.check ? ' (check mode)' : '';
    this.opts.events.append({ host: null, kind: 'run.started', message: `${id}: role ${request.role} on ${names.join(', ')}${mode} by ${actor}`, data: { run: id, role: request.role, hosts: names, check: request.check } });
    this.log.info({ run: id, role: request.role, hosts: names, check: request.check, actor }, 'run started');
    for (const p of prepared) void this.dispatch(run, p, timeoutMs);
    this.opts.repo.prune(this.opts.keepRuns ?? 1000);
    return this.get(id);
  }

  /** Asks every host still running to cancel; hosts report `cancelled` in their summaries. */
  async cancel(id: string, actor: string): Promise<RunDocument> {
    this.find(id);
    const run = this.active.get(id);
    if (run === undefined) return this.get(id);
    if (!run.cancelRequested) {
      run.cancelRequested = true;
      this.opts.repo.cancelRequested(id, actor);
      this.opts.events.append({ host: null, kind: 'run.cancel', message: `${id}: cancel requested by ${actor}`, data: { run: id } });
      this.waiters.notify(id);
    }
    const timeoutMs = this.opts.cancelTimeoutMs ?? 5000;
    await Promise.all(
      [...run.hosts].filter(([, h]) => h.running).map(async ([name, h]) => {
        try {
          await h.session.request((rid) => ({ type: 'req.cancel', id: rid, timeoutMs, runId: id }));
        } catch (err) {
          // The run request itself settles (peer gone, deadline) and records the host's outcome.
          this.log.warn({ run: id, host: name, err: messageOf(err) }, 'failed to deliver cancel');
        }
      }),
    );
    return this.get(id);
  }

  /** The full document; BALLAST_ERR_NOT_FOUND for an unknown id. */
  get(id: string): RunDocument {
    const run = this.find(id);
    return runDocument(run, this.opts.repo.hosts(id), this.opts.repo.results(id));
  }

  /** The run's state and results newer than `after`. */
  progress(id: string, after: number, limit: number): RunProgress {
    const run = this.find(id);
    return runProgress(run, this.opts.repo.hosts(id), this.opts.repo.results(id, after, limit));
  }

  /** The newest runs first. */
  list(limit: number): RunListItem[] {
    return this.opts.repo.list(limit).map((r) => runListItem(r, this.opts.repo.hosts(r.id)));
  }

  /** Resolves once the run's seq exceeds `after`, the run is finished, `waitMs` passed or `signal` aborted. */
  async waitForChange(id: string, after: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const run = this.find(id);
      const left = deadline - Date.now();
      if (run.seq > after || isRunFinished(run.status) || left <= 0 || signal?.aborted === true) return;
      await this.waiters.next(id, left, signal);
    }
  }

  /** From the hub: a `run.event` of an agent. Events of unknown runs or foreign hosts are dropped. */
  onRunEvent(host: { id: string; name: string }, event: RunEvent): void {
    const run = this.active.get(event.runId);
    const h = run?.hosts.get(host.name);
    if (run === undefined || h === undefined || h.id !== host.id || !h.running) {
      this.log.debug({ run: event.runId, host: host.name }, 'run event for no active run of this host: dropped');
      return;
    }
    const planned = h.plan.get(planKey(event.phase, event.index));
    const task: StoredPlanTask = planned ?? { phase: event.phase, index: event.index, name: event.name, module: event.module };
    try {
      if (event.state === 'started') {
        this.opts.repo.taskStarted(run.id, host.name, task);
      } else if (event.result === undefined) {
        this.log.warn({ run: run.id, host: host.name, task: task.name }, 'finished run event without a result: dropped');
        return;
      } else {
        const result = task.sensitive === true ? { ...event.result, diff: hideSecretDiff(event.result.diff) } : event.result;
        this.opts.repo.taskFinished(run.id, host.name, task, result);
        const label = task.phase === 'handler' ? 'HANDLER' : 'TASK';
        this.opts.events.append({
          host: host.name,
          kind: 'run.task',
          message: `${run.id} ${run.role}: ${label} [${task.name}] ${result.status}`,
          data: { run: run.id, phase: task.phase, index: task.index, task: task.name, status: result.status },
        });
      }
    } catch (err) {
      this.log.error({ err, run: run.id, host: host.name }, 'failed to record run event');
      return;
    }
    this.waiters.notify(run.id);
  }

  /**
   * An agent (re)connected: send `req.cancel` for each run it may still be executing that this
   * controller no longer follows. Best effort: a cancel that fails is logged; the agent's own run
   * deadline ends the run anyway.
   */
  onAgentConnected(host: { id: string; name: string }, session: RunSessionPort): void {
    const runIds = this.orphans.get(host.name);
    if (runIds === undefined) return;
    this.orphans.delete(host.name);
    const timeoutMs = this.opts.cancelTimeoutMs ?? 5000;
    for (const runId of runIds) {
      void session
        .request((rid) => ({ type: 'req.cancel', id: rid, timeoutMs, runId }))
        .then(({ cancelled }) => {
          this.log.info({ run: runId, host: host.name, cancelled }, 'asked a reconnected agent to cancel an orphaned run');
          if (cancelled) {
            this.opts.events.append({ host: host.name, kind: 'run.orphan-cancelled', message: `${runId} was still running on ${host.name} after the controller lost it; cancelled`, data: { run: runId } });
          }
        })
        .catch((err: unknown) => this.log.warn({ run: runId, host: host.name, err: messageOf(err) }, 'failed to cancel an orphaned run'));
    }
  }

  private addOrphan(hostName: string, runId: string): void {
    const set = this.orphans.get(hostName) ?? new Set<string>();
    set.add(runId);
    this.orphans.set(hostName, set);
  }

  /** Stops accepting runs; hosts whose requests fail from now on are `interrupted`, not failed. */
  close(): void {
    this.closing = true;
  }

  /** The stored run record; BALLAST_ERR_NOT_FOUND for an unknown id. */
  find(id: string): RunRecord {
    const run = this.opts.repo.get(id);
    if (run === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `run "${id}" does not exist`);
    return run;
  }

  private async dispatch(run: ActiveRun, p: PreparedHost, timeoutMs: number): Promise<void> {
    const name = p.target.name;
    let status: RunHostStatus = 'failed';
    let outcome: Parameters<RunRepo['hostFinished']>[2];
    try {
      this.opts.repo.hostStarted(run.id, name);
      this.waiters.notify(run.id);
      const result = await p.session.request((rid) => ({ type: 'req.run', id: rid, timeoutMs, run: p.spec }));
      // The summary's shape was checked where the reply arrived; that it is this run's is ours to check.
      if (result.runId !== run.id) {
        outcome = { status: 'failed', error: { code: 'BALLAST_ERR_FRAME_INVALID', message: 'the agent answered req.run with an invalid summary' }, summary: result };
      } else {
        status = result.failed > 0 ? 'failed' : result.cancelled ? 'cancelled' : 'succeeded';
        const { ok, changed, failed, skipped } = result;
        outcome = { status, recap: { ok, changed, failed, skipped }, summary: result };
      }
    } catch (err) {
      outcome = { status: this.closing ? 'interrupted' : 'failed', error: hostError(err, this.closing) };
      if (!this.closing && isBallastError(err, 'BALLAST_ERR_PEER_GONE')) this.addOrphan(name, run.id);
    }
    status = outcome.status;
    const h = run.hosts.get(name);
    if (h !== undefined) h.running = false;
    if (this.busy.get(name) === run.id) this.busy.delete(name);
    try {
      this.opts.repo.hostFinished(run.id, name, outcome);
      this.log.info({ run: run.id, host: name, status, error: outcome.error?.message }, 'host finished its run');
      if ([...run.hosts.values()].every((x) => !x.running)) this.finish(run);
    } catch (err) {
      this.log.error({ err, run: run.id, host: name }, 'failed to record the end of a host run');
    }
    this.waiters.notify(run.id);
  }

  private finish(run: ActiveRun): void {
    this.active.delete(run.id);
    const statuses = this.opts.repo.hosts(run.id).map((h) => h.status);
    let status: RunStatus = 'succeeded';
    if (this.closing || statuses.includes('interrupted')) status = 'interrupted';
    else if (statuses.includes('failed')) status = 'failed';
    else if (run.cancelRequested || statuses.includes('cancelled')) status = 'cancelled';
    this.opts.repo.runFinished(run.id, status);
    const failed = statuses.filter((s) => s === 'failed').length;
    this.opts.events.append({
      host: null,
      kind: 'run.finished',
      message: `${run.id}: role ${run.role} ${status}${failed > 0 ? ` (${failed} of ${statuses.length} hosts failed)` : ''}`,
      data: { run: run.id, status },
    });
    this.log.info({ run: run.id, status }, 'run finished');
  }
}

function hostError(err: unknown, closing: boolean): StoredError {
  if (closing) return { code: 'BALLAST_ERR_PEER_GONE', message: 'the controller shut down while the run was in flight' };
  if (isBallastError(err, 'BALLAST_ERR_PEER_GONE')) return { code: err.code, message: `agent disconnected before the run finished: ${err.message}` };
  if (isBallastError(err)) return { code: err.code, message: err.message };
  return { code: 'BALLAST_ERR_INTERNAL', message: messageOf(err) };
}
