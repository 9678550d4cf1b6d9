/**
 * A chain: several roles rendered into ONE run for one host, in order — the hosts phase of
 * `cluster create` sends each host its os-prep → containerd → kube-node → images → etcd chain as a
 * single run (issue 11). One run per host instead of five lets the agent's download-ahead
 * (agent/src/tasks/prefetch.ts) stream kubelet while containerd installs and the control-plane
 * images while the Kubernetes binaries install, and saves a run start and finish per role.
 *
 * Semantics, decided: tasks are the links' tasks in order; handlers are the links' handlers in
 * order, run once at the end of the chain (Ansible's handler semantics over the whole run), not at
 * the end of each link. That is safe for the links the hosts phase chains: no task of a later link
 * needs an earlier link's handler to have run (the containerd role starts containerd with a task;
 * its restart handler only matters to an already-running, changed containerd, and image imports
 * work on either). A chain may not hold itself, and each link's vars are checked and redacted with
 * that link's own schema, so secrets (etcd keys) stay hidden in stored runs.
 */
import { Type } from '@sinclair/typebox';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { RenderedRole, RenderProblem, RenderResult } from './types.js';

/** The name runs carry for a chain. */
export const CHAIN_ROLE = 'chain';

/** At most this many links: the hosts phase chains five. */
const MAX_LINKS = 8;

const ChainVars = Type.Object(
  {
    links: Type.Array(
      Type.Object({ role: Type.String({ minLength: 1, maxLength: 64 }), vars: Type.Record(Type.String({ maxLength: 128 }), Type.Unknown()) }, { additionalProperties: false }),
      { minItems: 1, maxItems: MAX_LINKS },
    ),
  },
  { additionalProperties: false },
);
const checkChain = compiledCheck(ChainVars);

/** One link: a role and its vars. */
export interface ChainLink {
  role: string;
  vars: Record<string, unknown>;
}

/** The vars of a chain run of `links`. */
export function chainVars(links: readonly ChainLink[]): Record<string, unknown> {
  return { links: links.map((l) => ({ role: l.role, vars: l.vars })) };
}

/** The links of a chain's vars, or null when they are not a chain's. */
export function chainLinks(vars: Record<string, unknown>): ChainLink[] | null {
  return checkChain.Check(vars) ? vars.links : null;
}

/**
 * Renders a chain with `renderLink` (renderRole for one link). Every link's problems are reported,
 * each under `/vars/links/<i>`, so one refusal lists them all.
 */
export function renderChain(vars: Record<string, unknown>, renderLink: (role: string, vars: Record<string, unknown>) => RenderResult): RenderResult {
  const links = chainLinks(vars);
  if (links === null) {
    const first = checkChain.Errors(vars).First();
    return { ok: false, problems: [{ path: `/vars${first?.path ?? ''}`, message: `not a chain of 1 to ${MAX_LINKS} links {role, vars}: ${first?.message ?? 'invalid'}` }] };
  }
  const problems: RenderProblem[] = [];
  const out: RenderedRole = { tasks: [], handlers: [] };
  for (const [i, link] of links.entries()) {
    if (link.role === CHAIN_ROLE) {
      problems.push({ path: `/vars/links/${i}/role`, message: 'a chain cannot hold a chain' });
      continue;
    }
    const result = renderLink(link.role, link.vars);
    if (!result.ok) {
      problems.push(...result.problems.map((p) => ({ ...p, path: `/vars/links/${i}${p.path}`, message: `${link.role}: ${p.message}` })));
      continue;
    }
    out.tasks.push(...result.role.tasks);
    // Two links defining one handler name: the engine runs it once, where it was first defined.
    out.handlers.push(...result.role.handlers.filter((h) => !out.handlers.some((o) => o.name === h.name)));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, role: out };
}
