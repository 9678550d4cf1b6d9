/**
 * How ballastctl colours the words of shared/src/states.ts (runs, run hosts, operations, steps) and
 * the Ansible-style task results, in one table each, so `runs`, `apply`, `ops` and `op` agree.
 */
import type { State } from '../../../shared/src/states.js';
import type { TaskStatus } from '../../../shared/src/tasks/results.js';
import type { Tone } from '../format.js';

/** A state's colour: green for success, red for what needs a look, yellow while moving. */
export const STATE_TONE: Record<State, Tone> = {
  pending: 'dim',
  running: 'yellow',
  paused: 'red',
  succeeded: 'green',
  failed: 'red',
  skipped: 'dim',
  // A cancelled run is what the operator asked for; an aborted operation leaves a half-built cluster.
  cancelled: 'dim',
  aborted: 'red',
  interrupted: 'red',
};

/** A task result's colour (`ok` and `changed` are both fine; `changed` stands out). */
export const RESULT_TONE: Record<TaskStatus, Tone> = { ok: 'green', changed: 'yellow', failed: 'red', skipped: 'dim' };
