/**
 * The contract between the operations engine and the code that defines operations: an
 * {@link OperationKind} validates its input and builds the plan (an ordered list of
 * {@link StepSpec}s, data only), and a {@link StepExecutor} per step `kind` does the work.
 *
 * Crash safety rests on one rule: **executors are idempotent.** The engine persists a step as
 * `running` before calling the executor and as `succeeded` after it returns; a controller killed in
 * between executes the step again when it restarts (its `attempts` goes up, and `step.attempt`
 * tells the executor). So an executor converges — "ensure etcd member h2 is in the cluster", never
 * "add a member" — and must be safe to call after a previous call that did all, part or none of
 * its work. Steps that already `succeeded` are never executed again.
 */
import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { OperationRecord } from './records.js';

/** One step of a plan, as the operation kind (or an executor's `insertAfter`) describes it. */
export interface StepSpec {
  /** Stable, unique within the operation: `etcd/add/cp-2`. Letters, digits and `._:/-`. */
  key: string;
  /** The phase the step belongs to (`preflight`, `etcd`, `control-plane` …): lowercase words joined by `-`. */
  phase: string;
  /** The host the step acts on; null for cluster-wide steps (gates, checks). */
  host?: string | null;
  /** What the operator reads: `Join cp-2 to etcd`. */
  title: string;
  /** The executor that runs it. */
  kind: string;
  /** Validated against the executor's `args` schema when the plan is made and again before each run. Never secrets: the plan is stored and shown. */
  args?: Record<string, unknown>;
  /** Deadline of one attempt (default: the engine's, 30 min). */
  timeoutMs?: number;
}

/** A step as an executor sees it. */
export interface StepView<A = Record<string, unknown>> {
  key: string;
  phase: string;
  host: string | null;
  title: string;
  kind: string;
  args: A;
  /** 1 on the first execution; more after a resume or a controller restart. */
  attempt: number;
}

/** What the engine gives an executor for one attempt. */
export interface StepContext {
  /** Aborted when the operation is aborted, the step's deadline passes, or the controller shuts down. Pass it on. */
  signal: AbortSignal;
  /** A child logger with `op`, `step` and `host` fields. */
  log: Logger;
  /** The operation (its stored, redacted input included). */
  op: Readonly<OperationRecord>;
  /** Records a progress message shown live (`ballastctl op ID --follow`); call it sparingly (each is a write). */
  progress(message: string): void;
  /** The `data` an earlier, finished step of this operation returned, or undefined. */
  resultOf(key: string): unknown;
}

/** What an executor's `execute` or `check` returns. */
export interface StepOutcome {
  /** One line for the operator: `member cp-2 added (id 8e9e05c52164694d)`. */
  message: string;
  /** Whether it changed something (for `check`: whether it would). */
  changed: boolean;
  /** The step was not applicable (recorded as `skipped`). */
  skipped?: boolean;
  /** JSON data for later steps (`ctx.resultOf(key)`) and for the operation document. Never secrets. */
  data?: unknown;
  /**
   * Steps to run right after this one, persisted atomically with its completion (rollbacks, one
   * step per discovered host …). Ignored in check mode.
   */
  insertAfter?: StepSpec[];
}

/** Runs the steps of one `kind`. Must be idempotent: see the module comment. */
export interface StepExecutor<A = Record<string, unknown>> {
  readonly kind: string;
  /** Schema of the step's args; checked at planning and before every attempt. */
  readonly args?: TSchema;
  /** Does the work. Throw a BallastError (with a code and, where useful, a path) to fail the step. */
  execute(step: StepView<A>, ctx: StepContext): Promise<StepOutcome>;
  /** Check mode: reports what `execute` would change, and changes nothing. */
  check(step: StepView<A>, ctx: StepContext): Promise<StepOutcome>;
}

/** What a plan builder learns about the operation it plans. */
export interface PlanContext {
  id: string;
  cluster: string | null;
  check: boolean;
}

/** One kind of operation (`bootstrap`, `reset` …). */
export interface OperationKind<I = Record<string, unknown>> {
  readonly kind: string;
  /** Schema of the input; `start` rejects anything else with BALLAST_ERR_VALIDATION and a path. */
  readonly input: TSchema;
  /** Builds the whole plan once, at creation; it is persisted and never rebuilt. */
  plan(input: I, ctx: PlanContext): StepSpec[] | Promise<StepSpec[]>;
  /** The input as it may be stored and shown (secrets replaced); default: as given. */
  redact?(input: I): Record<string, unknown>;
}

/** The executors and kinds an engine knows; see ops/catalogue.ts for the production set. */
export interface OperationRegistry {
  kinds: readonly OperationKind<unknown>[];
  executors: readonly StepExecutor<unknown>[];
}
