/**
 * Turning a run request into per-host RunSpecs, or into the complete list of what is wrong:
 * unknown, duplicate, disconnected or busy hosts, invalid vars, missing artifacts — all at once,
 * before anything is stored or sent.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { BallastError, type ErrorCode } from '../../../shared/src/errors.js';
import { MAX_FRAME_BYTES } from '../../../shared/src/protocol/limits.js';
import type { RunCreateRequest } from '../../../shared/src/runs-api.js';
import { type RunSpec, RunSpecSchema } from '../../../shared/src/tasks/task.js';
import type { RenderedRole, RenderResult, RoleHost, RoleTask } from '../roles/index.js';
import type { RunSessionPort, RunTarget, RunTargetPort } from './ports.js';
import type { StoredPlanTask } from './records.js';

const checkSpec = TypeCompiler.Compile(RunSpecSchema);

/** Renders a role for one host (roles/index.ts `renderRole`, with the artifact mirror bound). */
export type RoleRenderer = (role: string, options: { host: RoleHost; vars: Record<string, unknown> }) => RenderResult;

/** One host, ready to dispatch. */
export interface PreparedHost {
  target: RunTarget;
  session: RunSessionPort;
  spec: RunSpec;
  plan: StoredPlanTask[];
}

/** What {@link prepareRun} needs. */
export interface PrepareOptions {
  runId: string;
  request: RunCreateRequest;
  targets: RunTargetPort;
  render: RoleRenderer;
  /** Host name → id of the run it is busy with. */
  busy: ReadonlyMap<string, string>;
  /** The `timeoutMs` the req.run frame will carry (counted in the frame-size check). */
  timeoutMs: number;
}

/** One reason a run cannot start, with the code that tells a caller whether waiting can help. */
interface Problem {
  code: ErrorCode;
  text: string;
}

/**
 * Validates hosts and renders the role for each; throws one error listing every problem. Its code
 * is BALLAST_ERR_HOST_BUSY or BALLAST_ERR_HOST_NOT_CONNECTED when every problem is that one (a
 * caller may wait and retry: bootstrap/role-runner.ts does), the var's own code when a role var is
 * outside its safe domain (BALLAST_ERR_UNSAFE_PATH/_VALUE), BALLAST_ERR_VALIDATION otherwise.
 */
export function prepareRun(opts: PrepareOptions): PreparedHost[] {
  const { request } = opts;
  const problems: Problem[] = [];
  // path: message → the hosts it applies to, so a problem shared by 50 hosts is one line.
  const renderProblems = new Map<string, string[]>();
  const prepared: PreparedHost[] = [];
  const seen = new Set<string>();
  let rendered = 0;
  // A var outside its safe domain refuses the run with its own code (BALLAST_ERR_UNSAFE_PATH/_VALUE).
  let unsafe: ErrorCode | undefined;
  for (const [i, name] of request.hosts.entries()) {
    const where = `/hosts/${i}`;
    const target = opts.targets.find(name);
    const unusable: Problem | null = seen.has(name) ? { code: 'BALLAST_ERR_VALIDATION', text: `host "${name}" is listed twice` } : whyUnusable(name, target, opts.busy);
    seen.add(name);
    if (unusable !== null || target === null || target.session === null || target.arch === null) {
      problems.push({ code: unusable?.code ?? 'BALLAST_ERR_VALIDATION', text: `${where}: ${unusable?.text}` });
      continue;
    }
    const result = opts.render(request.role, { host: { name, arch: target.arch, address: target.address }, vars: request.vars });
    rendered += 1;
    if (!result.ok) {
      for (const p of result.problems) {
        if (p.code !== 'BALLAST_ERR_VALIDATION') unsafe ??= p.code;
        const key = `${p.path}: ${p.message}`;
        renderProblems.set(key, [...(renderProblems.get(key) ?? []), name]);
      }
      continue;
    }
    const spec = toSpec(opts.runId, request, result.role);
    const specProblem = checkSpecOf(spec, opts.timeoutMs);
    if (specProblem !== null) {
      problems.push({ code: 'BALLAST_ERR_VALIDATION', text: `${where}: role "${request.role}" rendered an invalid run for "${name}": ${specProblem}` });
      continue;
    }
    prepared.push({ target, session: target.session, spec, plan: planOf(result.role) });
  }
  for (const [key, hosts] of renderProblems) {
    problems.push({ code: 'BALLAST_ERR_VALIDATION', text: hosts.length === rendered ? key : `${key} (hosts: ${hosts.join(', ')})` });
  }
  if (problems.length > 0) {
    const n = problems.length;
    const first = problems[0]?.code ?? 'BALLAST_ERR_VALIDATION';
    const code = problems.every((p) => p.code === first) ? first : 'BALLAST_ERR_VALIDATION';
    throw new BallastError(
      unsafe ?? code,
      `failed to start run of role "${request.role}": ${n} problem${n === 1 ? '' : 's'}: ${problems.map((p) => p.text).join('; ')}`,
      { path: problems[0]?.text.split(':')[0] ?? '/' },
    );
  }
  return prepared;
}

/** Why a host cannot take part in a run, or null when it can. Busy and disconnected hosts may become usable by waiting. */
function whyUnusable(name: string, target: RunTarget | null, busy: ReadonlyMap<string, string>): Problem | null {
  if (target === null) return { code: 'BALLAST_ERR_VALIDATION', text: `host "${name}" is not enrolled` };
  if (target.session === null) return { code: 'BALLAST_ERR_HOST_NOT_CONNECTED', text: `host "${name}" has no agent connected` };
  const busyWith = busy.get(name);
  if (busyWith !== undefined) return { code: 'BALLAST_ERR_HOST_BUSY', text: `host "${name}" is busy with ${busyWith}; wait for it or cancel it` };
  if (target.arch === null) return { code: 'BALLAST_ERR_VALIDATION', text: `host "${name}" has not reported its facts yet (architecture unknown)` };
  return null;
}

function toSpec(runId: string, request: RunCreateRequest, role: RenderedRole): RunSpec {
  return { runId, check: request.check, diff: request.diff, tasks: role.tasks, handlers: role.handlers };
}

function planOf(role: RenderedRole): StoredPlanTask[] {
  const entry = (phase: 'task' | 'handler') => (t: RoleTask, index: number): StoredPlanTask => ({
    phase,
    index,
    name: t.name,
    module: t.module,
    ...(t.sensitive === true ? { sensitive: true } : {}),
  });
  return [...role.tasks.map(entry('task')), ...role.handlers.map(entry('handler'))];
}

/** Schema check plus the frame-size limit the agent enforces; null when the spec is fine. */
function checkSpecOf(spec: RunSpec, timeoutMs: number): string | null {
  if (!checkSpec.Check(spec)) {
    const first = checkSpec.Errors(spec).First();
    return `${first?.path || '/'}: ${first?.message ?? 'invalid'}`;
  }
  const bytes = Buffer.byteLength(JSON.stringify({ type: 'req.run', id: 'c-000000000', timeoutMs, run: spec }));
  return bytes > MAX_FRAME_BYTES ? `the request is ${bytes} bytes, over the ${MAX_FRAME_BYTES}-byte frame limit` : null;
}
