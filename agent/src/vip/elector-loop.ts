/**
 * The elector's loop driver and lifecycle: runs `step()` on a timer, each time as soon as the step
 * said it is due, and never two at once. Everything that changes the election (step, handover,
 * stop) goes through the same serial queue, so the candidate and holder sides never interleave.
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { SerialQueue } from './serial.js';
import { createSerialQueue } from './serial.js';

/**
 * Where the elector is in its life. `stopping`: releasing (status still shows the role, no new
 * timers); `halted`: abandoned as by SIGKILL, for good.
 */
export type LoopPhase = { phase: 'idle' } | { phase: 'running'; loop: boolean } | { phase: 'stopping' } | { phase: 'halted' };

/** Options of {@link createStepLoop}. */
export interface StepLoopOptions {
  /** One pass; resolves with the ms until the next one is due. */
  step: () => Promise<number>;
  log: Logger;
  /** The wait after a step that threw (the poll interval). */
  errorWaitMs: () => number;
}

/** The loop's controls; see the file comment. */
export interface StepLoop {
  /** step/handover/stop run one at a time through this queue. */
  readonly exclusive: SerialQueue;
  phase(): LoopPhase['phase'];
  /** Starts; `loop: false` leaves the stepping to the caller (tests). A halted loop stays halted. */
  begin(loop: boolean): void;
  /** Asks for the next step in `ms` (replacing the pending one); a no-op unless running its own loop. */
  schedule(ms: number): void;
  /** No more timers; the caller releases, then calls {@link StepLoop.stopped}. */
  stopping(): void;
  /** The release is done: `idle` again (a later `begin()` may restart it). */
  stopped(): void;
  /** Stops at once, for good, with no clean-up. */
  halt(): void;
}

/** Creates a loop in the `idle` phase. */
export function createStepLoop(opts: StepLoopOptions): StepLoop {
  const exclusive = createSerialQueue();
  let state: LoopPhase = { phase: 'idle' };
  let timer: NodeJS.Timeout | null = null;

  const clear = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };

  function schedule(ms: number): void {
    if (state.phase !== 'running' || !state.loop) return;
    clear();
    timer = setTimeout(() => {
      timer = null;
      exclusive(opts.step)
        .catch((err: unknown) => {
          opts.log.error({ err: messageOf(err) }, 'VIP elector step failed');
          return opts.errorWaitMs();
        })
        .then((wait) => schedule(wait));
    }, ms);
  }

  return {
    exclusive,
    phase: () => state.phase,
    begin(loop) {
      if (state.phase === 'halted') return;
      state = { phase: 'running', loop };
      schedule(0);
    },
    schedule,
    stopping() {
      if (state.phase !== 'halted') state = { phase: 'stopping' };
      clear();
    },
    stopped() {
      if (state.phase !== 'halted') state = { phase: 'idle' };
    },
    halt() {
      state = { phase: 'halted' };
      clear();
    },
  };
}
