/**
 * Test-only operation kinds and executors (never registered in production: see catalogue.ts),
 * and a fixture that opens a real SQLite store in a temporary directory.
 *
 * The executors count their executions per step key in a ledger that lives outside the store — a
 * stand-in for a side effect that is *not* idempotent — so tests can prove that no finished step
 * runs twice and that an interrupted one runs exactly once more.
 */
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../shared/src/errors.js';
import { silentLogger } from '../../../shared/src/log.js';
import { REDACTED } from '../../../shared/src/tasks/secrets.js';
import { type Store, openStore } from '../store/store.js';
import { OperationEngine, type OperationEngineOptions } from './engine.js';
import type { OperationKind, OperationRegistry, StepExecutor, StepSpec } from './types.js';

/** Counts executions (and checks) per step key; the "non-idempotent" side effect. */
export class Ledger {
  readonly executions = new Map<string, number>();
  readonly checks = new Map<string, number>();
  /** Keys that hang (ignoring the signal, like a wedged process) on their next execution. */
  readonly hangOnce = new Set<string>();
  /** Keys that block until released or aborted (honouring the signal). */
  readonly block = new Map<string, () => void>();
  readonly blocked = new Set<string>();
  /** Keys that fail this many more times. */
  readonly failures = new Map<string, number>();
  /** Steps to insert after a key's execution. */
  readonly insert = new Map<string, StepSpec[]>();

  count(key: string): number {
    return this.executions.get(key) ?? 0;
  }

  /** Releases a blocked step. */
  release(key: string): void {
    this.block.get(key)?.();
  }
}

const StepArgs = Type.Object({ note: Type.Optional(Type.String()) }, { additionalProperties: false });

/** The `test.count` executor: records an execution, and hangs, blocks, fails or inserts as told. */
export function countingExecutor(ledger: Ledger): StepExecutor<{ note?: string }> {
  return {
    kind: 'test.count',
    args: StepArgs,
    async execute(step, ctx) {
      ledger.executions.set(step.key, ledger.count(step.key) + 1);
      if (ledger.hangOnce.delete(step.key)) return new Promise<never>(() => {});
      if (ledger.blocked.has(step.key)) {
        ctx.progress(`waiting for ${step.key}`);
        await new Promise<void>((resolve, reject) => {
          ledger.block.set(step.key, resolve);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        });
      }
      const left = ledger.failures.get(step.key) ?? 0;
      if (left > 0) {
        ledger.failures.set(step.key, left - 1);
        throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to run ${step.title}: exit status 1`);
      }
      const insertAfter = ledger.insert.get(step.key);
      return { message: `${step.title} (attempt ${step.attempt})`, changed: true, data: { attempt: step.attempt }, ...(insertAfter === undefined ? {} : { insertAfter }) };
    },
    async check(step) {
      ledger.checks.set(step.key, (ledger.checks.get(step.key) ?? 0) + 1);
      const left = ledger.failures.get(step.key) ?? 0;
      if (left > 0) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to check ${step.title}: unreachable`);
      return { message: `would ${step.title.toLowerCase()}`, changed: step.key !== 'noop' };
    },
  };
}

/** Input of the `test.rollout` kind: one step per host, plus a gate at the end. */
export const RolloutInput = Type.Object({ hosts: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }), secret: Type.Optional(Type.String()) }, { additionalProperties: false });

/** The `test.rollout` kind: `prep/HOST` then `join/HOST` per host, then `gate/healthy`. */
export const rolloutKind: OperationKind<{ hosts: string[]; secret?: string }> = {
  kind: 'test.rollout',
  input: RolloutInput,
  plan: (input) => [
    ...input.hosts.map((h) => ({ key: `prep/${h}`, phase: 'prep', host: h, title: `Prepare ${h}`, kind: 'test.count' })),
    ...input.hosts.map((h) => ({ key: `join/${h}`, phase: 'join', host: h, title: `Join ${h}`, kind: 'test.count', args: { note: 'one at a time' } })),
    { key: 'gate/healthy', phase: 'gate', title: 'Wait until all hosts are healthy', kind: 'test.count' },
  ],
  redact: (input) => ({ ...input, ...(input.secret === undefined ? {} : { secret: REDACTED }) }),
};

/** A registry with the test kind and executor. */
export function testRegistry(ledger: Ledger): OperationRegistry {
  return { kinds: [rolloutKind], executors: [countingExecutor(ledger)] };
}

/** A real store in a temporary directory, and engines over it. */
export interface OpsFixture {
  dir: string;
  path: string;
  store: Store;
  ledger: Ledger;
  engine: OperationEngine;
  /** A new engine (and store connection) over the same file, as after a controller restart. */
  restart(): { store: Store; engine: OperationEngine };
  cleanup(): Promise<void>;
}

/** Opens the fixture; `options` go to every engine it builds. */
export async function opsFixture(options: Partial<OperationEngineOptions> = {}): Promise<OpsFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-ops-'));
  const path = join(dir, 'ballast.db');
  const ledger = new Ledger();
  const stores: Store[] = [];
  const engines: OperationEngine[] = [];
  const build = () => {
    const store = openStore({ path });
    const engine = new OperationEngine({ repo: store.operations, events: store.events, log: silentLogger(), registry: testRegistry(ledger), settleTimeoutMs: 500, ...options });
    stores.push(store);
    engines.push(engine);
    return { store, engine };
  };
  const first = build();
  return {
    dir,
    path,
    ...first,
    ledger,
    restart: build,
    async cleanup() {
      for (const e of engines) await e.close();
      for (const s of stores) s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every 5 ms until it holds (`ms`, default 5 s, at most). */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The `test.append` executor: appends `KEY ATTEMPT` to a file on every execution (a side effect
 * that survives the process, for SIGKILL tests) and hangs on the first attempt of `args.hang` steps.
 */
export function appendingExecutor(ledgerPath: string): StepExecutor<{ hang?: boolean }> {
  return {
    kind: 'test.append',
    args: Type.Object({ hang: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    async execute(step) {
      appendFileSync(ledgerPath, `${step.key} ${step.attempt}\n`);
      if (step.args.hang === true && step.attempt === 1) return new Promise<never>(() => {});
      return { message: `appended ${step.key}`, changed: true };
    },
    async check(step) {
      return { message: `would append ${step.key}`, changed: true };
    },
  };
}

/** The `test.chain` kind: steps `s0` … `s(n-1)`; `hang` names the one that hangs on its first attempt. */
export const chainKind: OperationKind<{ steps: number; hang: number }> = {
  kind: 'test.chain',
  input: Type.Object({ steps: Type.Integer({ minimum: 1, maximum: 100 }), hang: Type.Integer({ minimum: -1 }) }),
  plan: (input) => Array.from({ length: input.steps }, (_, i) => ({ key: `s${i}`, phase: 'chain', title: `Step ${i}`, kind: 'test.append', args: i === input.hang ? { hang: true } : {} })),
};
