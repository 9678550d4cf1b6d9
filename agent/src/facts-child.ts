/**
 * The daemon's facts, collected by a short-lived child: `ballast-agent facts` (main.ts), the same
 * program and node flags as the daemon. Why a child: facts need systeminformation, which stays
 * resident for the life of whatever process loads it (~1.5 MB, bench/agent-idle), while the
 * daemon needs facts only when it connects. The child's output crosses a process boundary, so it
 * is validated against the wire schema (FactsSchema) before it is used; if the child cannot run,
 * the daemon falls back to what it can read without systeminformation (facts.ts nodeSystemInfo).
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../shared/src/errors.js';
import { type Facts, FactsSchema } from '../../shared/src/protocol/facts.js';
import { collectFacts, FACTS_COLLECTOR_TIMEOUT_MS, nodeSystemInfo } from './facts.js';
import type { ExecPort } from './host/ports.js';

/** The child's whole budget: node's start on a busy host plus the collectors (each ≤ 3 s, concurrent). */
export const FACTS_CHILD_TIMEOUT_MS = FACTS_COLLECTOR_TIMEOUT_MS + 7_000;

/** Facts JSON is a few KB; the wire schema bounds every string and list, so 1 MB is generous. */
const MAX_FACTS_OUTPUT = 1024 * 1024;

/** Options of {@link createChildFactsCollector}. */
export interface ChildFactsOptions {
  exec: ExecPort;
  /** argv that starts this program: node, its flags, the main script (`facts` is appended). */
  self: string[];
  log: Logger;
  timeoutMs?: number;
}

/** The argv that starts this very program again: node, the flags it runs with, its main script. */
export function selfCommand(): string[] {
  const script = process.argv[1];
  if (script === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', 'failed to find the agent program: process.argv has no script');
  return [process.execPath, ...process.execArgv, script];
}

let factsCheck: ReturnType<typeof TypeCompiler.Compile<typeof FactsSchema>> | null = null;

/** Parses and validates the child's stdout; throws BALLAST_ERR_VALIDATION naming the first bad path. */
export function parseChildFacts(stdout: string): Facts {
  if (stdout.length > MAX_FACTS_OUTPUT) throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to read the facts child's output: ${stdout.length} bytes, limit ${MAX_FACTS_OUTPUT}`);
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (err) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read the facts child's output: not JSON (${messageOf(err)})`, { cause: err });
  }
  factsCheck ??= TypeCompiler.Compile(FactsSchema);
  if (factsCheck.Check(json)) return json;
  const first = factsCheck.Errors(json).First();
  throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read the facts child's output: ${first?.message ?? 'invalid'} at ${first?.path || '/'}`, { path: first?.path });
}

/**
 * `collectFacts` for the session: runs the child; on any failure logs a warning and returns the
 * facts this process can read itself (CPU, disks and product UUID then empty until the next connect).
 */
export function createChildFactsCollector(opts: ChildFactsOptions): () => Promise<Facts> {
  return async () => {
    try {
      const r = await opts.exec([...opts.self, 'facts'], { timeoutMs: opts.timeoutMs ?? FACTS_CHILD_TIMEOUT_MS });
      if (r.code !== 0) {
        throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to collect facts: \`ballast-agent facts\` exited ${r.code}: ${r.stderr.trim().slice(-500)}`);
      }
      return parseChildFacts(r.stdout);
    } catch (err) {
      opts.log.warn({ err: messageOf(err) }, 'facts child failed: reporting the facts readable without it');
      return collectFacts({ si: nodeSystemInfo(), logger: opts.log });
    }
  };
}
