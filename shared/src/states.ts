/**
 * One vocabulary for the state of everything the controller carries out over time: a run
 * (`ballastctl apply`), a host's part of a run, an operation, and a step of an operation.
 *
 *   pending      planned, not started yet (run hosts, operations, steps)
 *   running      in progress
 *   paused       stopped at a failed step; waits for resume or abort (operations)
 *   succeeded    ended and did what was asked
 *   failed       ended without doing what was asked
 *   skipped      not applicable, nothing done (steps)
 *   cancelled    a run an operator cancelled (its hosts got `req.cancel`)
 *   aborted      an operation an operator aborted (it can never be resumed)
 *   interrupted  the controller stopped while a run was in flight (runs are not resumed)
 *
 * Decision (issue 10 §6): success is `succeeded` everywhere. Runs said `ok` and steps `done`
 * before. `ok` is taken: it is the Ansible-style *task result* on a host (`ok | changed | failed |
 * skipped`, shared/src/tasks/results.ts, and the recap counters), which means "nothing needed to
 * change" — a run whose every task was `changed` is no less a success, so one word for both
 * concepts misled. `done` says a thing ended, not how (a failed step is also done). `succeeded`
 * is unambiguous and is what Kubernetes calls it (Job and Pod phase `Succeeded`). Task results
 * keep the Ansible words: they are a different concept, a result, not a state.
 *
 * `cancelled` and `aborted` stay two words because the operator's verbs differ (`run cancel`
 * stops hosts that may be mid-task; `op abort` ends a plan that could otherwise be resumed).
 *
 * Stored rows: the tables of migrations 3 and 5 still hold (and their CHECK constraints still
 * require) the old success words; the repositories translate at the boundary
 * (controller/src/store/journal.ts), so old rows read as `succeeded` and no migration is needed.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Planned, not started yet. */
export const Pending = Type.Literal('pending');
/** In progress. */
export const Running = Type.Literal('running');
/** Stopped at a failed step, waiting for resume or abort (operations only). */
export const Paused = Type.Literal('paused');
/** Ended and did what was asked: the one success word (see the module comment). */
export const Succeeded = Type.Literal('succeeded');
/** Ended without doing what was asked. */
export const Failed = Type.Literal('failed');
/** Not applicable: nothing was done (steps only). */
export const Skipped = Type.Literal('skipped');
/** An operator cancelled the run. */
export const Cancelled = Type.Literal('cancelled');
/** An operator aborted the operation. */
export const Aborted = Type.Literal('aborted');
/** The controller stopped while the run was in flight. */
export const Interrupted = Type.Literal('interrupted');

/** Every word of the vocabulary; each API's own schema names the subset it uses. */
export const StateSchema = Type.Union([Pending, Running, Paused, Succeeded, Failed, Skipped, Cancelled, Aborted, Interrupted]);
export type State = Static<typeof StateSchema>;
