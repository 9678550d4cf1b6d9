/**
 * From a `node replace | add | remove` request to a started operation: everything is checked
 * before anything starts, and a refusal names what and why — the cluster and its current spec,
 * OLD in it and NEW not, NEW enrolled, connected and valid (the bootstrap validator, NEW's
 * problems only), an unreachable OLD only with fencing, the membership lock free, etcd healthy
 * with no learner, and the quorum guard over the whole plan with the numbers. The operation
 * checks the live parts again as its first steps (a resumed operation may run much later).
 */
import { BallastError } from '../../../shared/src/errors.js';
import { type ClusterHost, type ClusterRole, type ClusterSpec, checkClusterDocument } from '../cluster/spec.js';
import type { OperationEngine } from '../ops/engine.js';
import { lockedError } from '../store/membership.js';
import { judgeChange, liveMembers } from './etcd-view.js';
import { type MembershipDeps, type MembershipInput, type MembershipKind, NODE_ADD, NODE_REMOVE, NODE_REPLACE } from './types.js';

/** What the API hands over, whichever the kind. */
export interface MembershipRequest {
  /** node add: the cluster; replace and remove find it from OLD. */
  cluster?: string;
  old?: string;
  add?: string;
  /** node add: NEW's roles. */
  roles?: ClusterRole[];
  /** NEW's cluster address; default: the address its agent connects from. */
  address?: string;
  forceOffline?: boolean;
  confirmPoweredOff?: boolean;
  check: boolean;
  diff: boolean;
}

/** Where specs come from: each cluster's current spec (after its newest membership change, else its create). */
export interface SpecSource {
  clusters(): string[];
  current(cluster: string): ClusterSpec | null;
}

const refuse = (message: string, path = '/'): never => {
  throw new BallastError('BALLAST_ERR_VALIDATION', `${message}; nothing was started`, { path });
};

function findCluster(specs: SpecSource, host: string): ClusterSpec {
  for (const name of specs.clusters()) {
    const spec = specs.current(name);
    if (spec?.hosts.some((h) => h.name === host)) return spec;
  }
  throw new BallastError('BALLAST_ERR_NOT_FOUND', `host "${host}" is in no cluster (ballastctl cluster list); nothing was started`);
}

/** Builds the input (refusing with every reason) and starts the operation. */
export async function startMembershipChange(
  kind: MembershipKind,
  req: MembershipRequest,
  env: { ops: Pick<OperationEngine, 'start'>; deps: MembershipDeps; specs: SpecSource; actor: string },
): Promise<ReturnType<OperationEngine['start']>> {
  const { deps, specs } = env;
  let before: ClusterSpec;
  if (kind === NODE_ADD) {
    const spec = req.cluster === undefined ? null : specs.current(req.cluster);
    if (spec === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `cluster "${req.cluster ?? ''}" does not exist (ballastctl cluster list); nothing was started`);
    before = spec;
  } else before = findCluster(specs, req.old ?? '');
  const held = deps.repo.lock(before.name);
  if (held !== null) throw lockedError(held);

  const oldHost = req.old === undefined ? undefined : before.hosts.find((h) => h.name === req.old);
  let old: MembershipInput['old'];
  if (oldHost !== undefined) {
    const online = deps.hosts.find(oldHost.name)?.connected === true;
    if (!online && kind === NODE_REMOVE && req.forceOffline !== true) {
      throw new BallastError('BALLAST_ERR_HOST_UNREACHABLE', `failed to remove ${oldHost.name}: its agent is not connected; rerun with --force-offline to fence it and remove it unreachable; nothing was started`);
    }
    old = { ...oldHost, online };
  }
  let add: ClusterHost | undefined;
  if (req.add !== undefined) {
    if (before.hosts.some((h) => h.name === req.add)) refuse(`${req.add} is already a host of cluster ${before.name}`, '/add');
    const fleet = deps.hosts.find(req.add);
    if (fleet === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `host "${req.add}" is not enrolled (ballastctl token create, then ballast-agent join on it); nothing was started`);
    if (!fleet.connected) throw new BallastError('BALLAST_ERR_HOST_NOT_CONNECTED', `failed to use ${req.add}: its agent is not connected; nothing was started`);
    const address = req.address ?? fleet.address;
    if (address === null) refuse(`${req.add}: no address known; give one with --address`, '/address');
    const roles = kind === NODE_REPLACE ? (oldHost?.roles ?? []) : (req.roles ?? []);
    add = { name: req.add, address: address as string, roles: [...roles] };
  }

  const hosts = before.hosts.filter((h) => h.name !== old?.name);
  const draft = { ...before, hosts: add === undefined ? hosts : [...hosts, add] };
  const checked = checkClusterDocument(draft);
  if (!checked.ok) refuse(`the cluster after the change is not valid: ${checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const after = (checked as { spec: ClusterSpec }).spec;
  if (add !== undefined) {
    // The bootstrap validator on the new spec, keeping NEW's own problems (the rest of the cluster is running).
    const index = after.hosts.findIndex((h) => h.name === add.name);
    const mine = deps.bootstrap.validate(after).problems.filter((p) => p.path === `/hosts/${index}` || p.path.startsWith(`/hosts/${index}/`));
    if (mine.length > 0) refuse(`${add.name} cannot join cluster ${before.name}: ${mine.map((p) => `${p.path}: ${p.message}`).join('; ')}`, mine[0]?.path);
  }

  const members = await liveMembers(deps.bootstrap, before);
  if (members.length > 0) judgeChange({ old, add }, members);
  const through = [...members.filter((m) => m.healthy && !m.learner), ...members.filter((m) => !m.healthy)].map((m) => m.name).filter((n) => n !== old?.name);
  const input: MembershipInput = {
    before,
    spec: after,
    ...(old === undefined ? {} : { old }),
    ...(add === undefined ? {} : { add }),
    through: through.slice(0, 9),
    ...(req.confirmPoweredOff === true ? { confirmPoweredOff: true } : {}),
    ...(req.diff ? { diff: true } : {}),
  };
  return env.ops.start(kind, input, { actor: env.actor, cluster: before.name, check: req.check });
}
