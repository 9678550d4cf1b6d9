/**
 * Hand-written fakes for the orchestrator's ports (STYLE.md §12), shared by the unit tests of the
 * orchestrator and the runs API. Nothing in production imports this file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BallastError } from '../../../shared/src/errors.js';
import { silentLogger } from '../../../shared/src/log.js';
import type { ControllerRequest, RunEvent, RunSummary } from '../../../shared/src/protocol/messages.js';
import { invalidResponse, isResponseTo, type ResponseOf } from '../../../shared/src/protocol/responses.js';
import type { TaskResult } from '../../../shared/src/tasks/results.js';
import { renderRole } from '../roles/index.js';
import { FULL_MIRROR } from '../roles/testing.js';
import { redactRoleVars } from '../roles/index.js';
import { type Store, openStore } from '../store/store.js';
import { RunOrchestrator } from './orchestrator.js';
import type { RunSessionPort, RunTarget } from './ports.js';

type RunRequest = Extract<ControllerRequest, { type: 'req.run' }>;

/**
 * An agent session that records requests and lets the test answer each run when it wants. Answers
 * go through the same reply check as the real request tracker (responses.ts), so an invalid one
 * fails the request with BALLAST_ERR_FRAME_INVALID exactly as it would over a socket.
 */
export class FakeSession implements RunSessionPort {
  readonly requests: ControllerRequest[] = [];
  private readonly pending = new Map<string, { answer: (v: unknown) => void; reject: (e: unknown) => void; req: RunRequest }>();
  private counter = 0;
  /** Called synchronously when a req.run arrives (before the orchestrator's request resolves). */
  onRun: ((req: RunRequest) => void) | null = null;

  request<R extends ControllerRequest>(make: (id: string) => R): Promise<ResponseOf<R>> {
    this.counter += 1;
    const req = make(`c-${this.counter}`);
    // Narrowed through a non-generic alias; the answer is typed by `req` itself (isResponseTo<R>).
    const msg: ControllerRequest = req;
    this.requests.push(msg);
    return new Promise((resolve, reject) => {
      const answer = (value: unknown) => {
        if (isResponseTo<R>(req, value)) resolve(value);
        else reject(invalidResponse(req, value));
      };
      if (msg.type === 'req.cancel') answer({ cancelled: this.pending.has(msg.runId) });
      else if (msg.type !== 'req.run') reject(new BallastError('BALLAST_ERR_UNSUPPORTED', `the fake session does not answer ${msg.type}`));
      else {
        this.pending.set(msg.run.runId, { answer, reject, req: msg });
        this.onRun?.(msg);
      }
    });
  }

  /** The req.run of `runId`. */
  runRequest(runId: string): RunRequest {
    const p = this.pending.get(runId);
    if (p === undefined) throw new Error(`no pending run ${runId}`);
    return p.req;
  }

  /** Answers the run with a summary (or any value, to test validation). */
  finish(runId: string, summary: Partial<RunSummary> | unknown = {}): void {
    const p = this.take(runId);
    const base: RunSummary = { runId, ok: 0, changed: 0, failed: 0, skipped: 0, cancelled: false, durationMs: 5 };
    p.answer(typeof summary === 'object' && summary !== null && !Array.isArray(summary) ? { ...base, ...summary } : summary);
  }

  /** Fails the run request with a coded error (PEER_GONE, DEADLINE_EXCEEDED …). */
  fail(runId: string, error: BallastError): void {
    this.take(runId).reject(error);
  }

  private take(runId: string) {
    const p = this.pending.get(runId);
    if (p === undefined) throw new Error(`no pending run ${runId}`);
    this.pending.delete(runId);
    return p;
  }
}

/** A task result with defaults. */
export function taskResult(status: TaskResult['status'], extra: Partial<TaskResult> = {}): TaskResult {
  return { status, durationMs: 3, diff: '', message: `${status}`, notified: [], ...extra };
}

/** A `run.event` for task `index` of `runId`. */
export function runEvent(runId: string, index: number, state: 'started' | 'finished', result?: TaskResult, phase: 'task' | 'handler' = 'task'): RunEvent {
  return { type: 'run.event', runId, phase, index, name: `task ${index}`, module: 'file', state, ...(result === undefined ? {} : { result }) };
}

/** A store in a temp dir, an orchestrator over it with fake hosts, and cleanup. */
export interface RunFixture {
  store: Store;
  dir: string;
  sessions: Map<string, FakeSession>;
  targets: Map<string, RunTarget>;
  orchestrator: RunOrchestrator;
  /** A second orchestrator over the same store, as a restarted controller would build. */
  restart(): RunOrchestrator;
  cleanup(): Promise<void>;
}

/** Hosts node-1..node-n, connected, amd64, with fake sessions. */
export async function runFixture(hostCount = 2): Promise<RunFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-runs-'));
  const store = openStore({ path: join(dir, 'ballast.db') });
  const sessions = new Map<string, FakeSession>();
  const targets = new Map<string, RunTarget>();
  for (let i = 1; i <= hostCount; i++) {
    const name = `node-${i}`;
    const session = new FakeSession();
    sessions.set(name, session);
    targets.set(name, { id: `h_${name}`, name, arch: 'amd64', address: `198.18.0.${i + 1}`, session });
  }
  const build = () =>
    new RunOrchestrator({
      repo: store.runs,
      targets: { find: (name) => targets.get(name) ?? null },
      render: (role, { host, vars }) => renderRole(role, { host, vars, artifacts: FULL_MIRROR }),
      redact: redactRoleVars,
      events: store.events,
      log: silentLogger(),
    });
  return {
    store,
    dir,
    sessions,
    targets,
    orchestrator: build(),
    restart: () => {
      const o = build();
      o.recover();
      return o;
    },
    cleanup: async () => {
      store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Lets promise continuations (the orchestrator's awaits) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A coded error as an agent session would reject with. */
export function peerGone(): BallastError {
  return new BallastError('BALLAST_ERR_PEER_GONE', 'failed to complete req.run request c-1: agent disconnected (1006)');
}
