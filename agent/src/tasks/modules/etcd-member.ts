/**
 * `etcd_member`: one membership change (add as learner, promote, remove) through the local
 * member's client URL, idempotent and behind the quorum guard (agent/src/etcd/quorum.ts).
 *
 * Members are identified by peer URLs: a member added but not yet started has no name. A member
 * that shares a peer URL is "the same member"; if it already carries another (started) name, or a
 * started member carries our name with other peer URLs, that is a conflict the operation must
 * resolve (a host re-addressed, or two hosts given one name), never something to paper over.
 *
 * Check mode: only reads (member list, status); reports what would change. When etcd cannot be
 * reached, or the TLS files are not there yet (a check run before etcd is installed), the task is
 * skipped with the reason rather than failed. A guard refusal is reported as skipped too, since an
 * earlier task of the same check run (starting the learner) would have changed the picture.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BallastError, isBallastError, messageOf } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { createBackoff } from '../../backoff.js';
import { connectEtcd, type EtcdClient, type EtcdConnector, type EtcdMember, memberIdHex } from '../../etcd/client.js';
import { probeMembers } from '../../etcd/health.js';
import { judgeMembershipChange, type MembershipChange } from '../../etcd/quorum.js';
import { lstatOrNull } from '../attrs.js';
import { hostPath, type Module, type ModuleContext, type ModuleOutcome } from '../module.js';

type Args = ModuleArgs<'etcd_member'>;

/** Where the etcd role puts its TLS files (controller/src/roles/etcd.ts). */
export const ETCD_PKI_DIR = '/etc/etcd/pki';
/** The local member, when the task names no endpoints. */
export const DEFAULT_ETCD_ENDPOINT = 'https://127.0.0.1:2379';
/** Deadline of a whole change, including waiting for a learner to catch up. */
export const DEFAULT_ETCD_MEMBER_TIMEOUT_MS = 60_000;

/**
 * etcd refusals that go away by themselves, so a change is retried with backoff until the task
 * deadline: the learner is still catching up (or has not started, so etcd does not count it as
 * started), the leader just changed, or the cluster changed less than 5 s ago (etcd's strict
 * reconfig check wants every voter connected for its 5 s health interval — "unhealthy cluster"
 * right after a promote, when the bootstrap adds the next member at once), or a proposal timed out.
 */
const RETRYABLE = /in sync with leader|learner.*not ready|not enough started members|leader changed|unhealthy cluster|request timed out/i;

/** Options of {@link createEtcdMemberModule}. */
export interface EtcdMemberModuleOptions {
  /** Builds the client; default the real HTTPS client. Tests inject a fake. */
  connect?: EtcdConnector;
  /** Deadline of each etcd call (default the client's, 2 s). */
  callTimeoutMs?: number;
  /** Backoff between attempts of a change etcd refused for now (default 250 ms growing to 500 ms). */
  retryBaseMs?: number;
  retryCapMs?: number;
}

/** See the file comment. */
export function createEtcdMemberModule(opts: EtcdMemberModuleOptions = {}): Module<'etcd_member'> {
  const connect = opts.connect ?? connectEtcd;
  return {
    name: 'etcd_member',
    async run(args, ctx) {
      const timeoutMs = args.timeoutMs ?? DEFAULT_ETCD_MEMBER_TIMEOUT_MS;
      // One signal for the whole change: the run's cancel/deadline or ours, whichever comes first.
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([ctx.signal, deadline]);
      const log = ctx.log.child({ etcdAction: args.action, member: args.name });
      const endpoints = args.endpoints ?? [DEFAULT_ETCD_ENDPOINT];

      let client: EtcdClient;
      let members: EtcdMember[];
      try {
        const tls = await loadEtcdTls(args, ctx, 'etcd_member');
        client = connect({ endpoints, tls, timeoutMs: opts.callTimeoutMs, log });
        members = await client.memberList({ signal });
      } catch (err) {
        if (ctx.check && isBallastError(err, 'BALLAST_ERR_ETCD_UNAVAILABLE', 'BALLAST_ERR_CONFIG')) {
          return { changed: false, skipped: true, message: `cannot tell what would change: ${messageOf(err)}` };
        }
        throw rethrow(err, ctx, deadline, timeoutMs, `${args.action} etcd member ${args.name}`);
      }
      const step: Step = { args, ctx, client, signal, log };
      const attempt = args.action === 'add' ? addAttempt : args.action === 'remove' ? removeAttempt : promoteAttempt;
      try {
        return await withRetries(step, members, { baseMs: opts.retryBaseMs ?? 250, capMs: opts.retryCapMs ?? 500 }, attempt);
      } catch (err) {
        throw rethrow(err, ctx, deadline, timeoutMs, `${args.action} etcd member ${args.name}`);
      }
    },
  };
}

/** `etcd_member` with the real HTTPS client. */
export const etcdMemberModule: Module<'etcd_member'> = createEtcdMemberModule();

interface Step {
  args: Args;
  ctx: ModuleContext;
  client: EtcdClient;
  signal: AbortSignal;
  log: ModuleContext['log'];
}

/** One attempt at a change: done (with the outcome), or refused for now (with why). */
type Attempt = { done: ModuleOutcome } | { wait: string };
/** Looks at `members` and converges one step; `retried` is true after an attempt that was refused for now. */
type AttemptFn = (s: Step, members: EtcdMember[], retried: boolean) => Promise<Attempt>;

/**
 * Runs `attempt` until it is done, re-reading the member list before each retry (a refused or
 * timed-out change may still have been applied) and backing off between them, until the task
 * deadline or a cancel.
 */
async function withRetries(s: Step, first: EtcdMember[], retry: { baseMs: number; capMs: number }, attempt: AttemptFn): Promise<ModuleOutcome> {
  const backoff = createBackoff({ baseMs: retry.baseMs, capMs: retry.capMs });
  let members = first;
  for (;;) {
    const result = await attempt(s, members, backoff.attempts > 0);
    if ('done' in result) return result.done;
    const wait = backoff.next();
    s.log.debug({ waitMs: wait, why: result.wait }, 'etcd change refused for now; waiting');
    try {
      await sleep(wait, undefined, { signal: s.signal });
    } catch (err) {
      throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to ${s.args.action} etcd member ${s.args.name}: still refused when the task ended; last: ${result.wait}`, {
        cause: err,
      });
    }
    members = await s.client.memberList({ signal: s.signal });
  }
}

/** Runs a mutation: null when it went through, the refusal when etcd may accept it later; anything else throws. */
async function mutate(fn: () => Promise<unknown>): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (err) {
    if (isBallastError(err, 'BALLAST_ERR_ETCD_REFUSED', 'BALLAST_ERR_ETCD_UNAVAILABLE') && RETRYABLE.test(err.message)) return messageOf(err);
    throw err;
  }
}

const addAttempt: AttemptFn = async (s, members, retried) => {
  const { args, ctx } = s;
  const diff = ctx.diff ? `+ learner ${args.name} ${args.peerUrls.join(',')}\n` : undefined;
  const existing = findMember(members, args);
  if (existing !== undefined) {
    // After a refused-for-now attempt, finding it means a retry (or the timed-out call) added it.
    if (retried) return { done: { changed: true, message: `added ${args.name} as a learner (member id ${memberIdHex(existing.id)})`, diff } };
    return { done: { changed: false, message: `${args.name} is already a member (${describe(existing)})` } };
  }
  const guard = await judge(s, members, { kind: 'add-learner', peerUrls: args.peerUrls });
  if (ctx.check) return { done: checkOutcome(guard, `would add ${args.name} as a learner (${guard.reason})`, diff) };
  assertVerdict(guard, `add etcd member ${args.name}`);
  let added: EtcdMember | undefined;
  const refusal = await mutate(async () => {
    added = await s.client.memberAdd(args.peerUrls, { isLearner: true, signal: s.signal });
  });
  if (refusal !== null || added === undefined) return { wait: refusal ?? 'no member in the answer' };
  s.log.info({ memberId: added.id, peerUrls: args.peerUrls }, 'added etcd learner');
  return { done: { changed: true, message: `added ${args.name} as a learner (member id ${memberIdHex(added.id)})`, diff } };
};

const removeAttempt: AttemptFn = async (s, members, retried) => {
  const { args, ctx } = s;
  const target = findMember(members, args);
  if (target === undefined) return { done: { changed: retried, message: retried ? `removed ${args.name}` : `${args.name} is not a member` } };
  const guard = await judge(s, members, { kind: 'remove', id: target.id });
  const diff = ctx.diff ? `- ${target.isLearner ? 'learner' : 'voter'} ${args.name} ${target.peerUrls.join(',')}\n` : undefined;
  if (ctx.check) return { done: checkOutcome(guard, `would remove ${args.name} (${describe(target)})`, diff) };
  assertVerdict(guard, `remove etcd member ${args.name}`);
  const refusal = await mutate(() => s.client.memberRemove(target.id, { signal: s.signal }));
  if (refusal !== null) return { wait: refusal };
  s.log.info({ memberId: target.id }, 'removed etcd member');
  return { done: { changed: true, message: `removed ${args.name} (${describe(target)}; ${guard.reason})`, diff } };
};

/**
 * Promotes once the guard allows it and etcd agrees the learner caught up. Right after a learner
 * starts it neither answers status nor is in sync; waiting for that is the point of this step, so
 * a guard refusal that only the learner's silence causes is retried too. One caused by voters
 * being down is not: waiting for the learner would not fix it.
 */
const promoteAttempt: AttemptFn = async (s, members, retried) => {
  const { args, ctx } = s;
  const target = findMember(members, args);
  if (target === undefined) {
    // In a check run the add of an earlier task did not happen; that is not this task's failure.
    if (ctx.check) return { done: { changed: false, skipped: true, message: `${args.name} is not a member yet; would promote it once added` } };
    throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to promote etcd member ${args.name}: no member has peer URL ${args.peerUrls.join(',')}; add it first`, {
      path: '/args/peerUrls',
    });
  }
  if (!target.isLearner) return { done: { changed: retried, message: `${args.name} is ${retried ? 'now' : 'already'} a voter` } };
  const guard = await judge(s, members, { kind: 'promote', id: target.id });
  const diff = ctx.diff ? `~ ${args.name}: learner → voter\n` : undefined;
  if (ctx.check) return { done: checkOutcome(guard, `would promote ${args.name} to voter (${guard.reason})`, diff) };
  if (!guard.allowed && guard.learnerOnly) return { wait: `quorum guard: ${guard.reason}` };
  assertVerdict(guard, `promote etcd member ${args.name}`);
  const refusal = await mutate(() => s.client.memberPromote(target.id, { signal: s.signal }));
  if (refusal !== null) return { wait: refusal };
  s.log.info({ memberId: target.id }, 'promoted etcd learner');
  return { done: { changed: true, message: `promoted ${args.name} to voter (${guard.reason})`, diff } };
};

/** The guard's verdict, plus whether the only thing missing is the learner itself answering. */
type Verdict = ReturnType<typeof judgeMembershipChange> & { learnerOnly: boolean };

/**
 * Probes the voters (and, for a promote, the learner), then judges `change`. `learnerOnly` says
 * the refusal would go away if the learner answered, i.e. waiting may fix it.
 */
async function judge(s: Step, members: EtcdMember[], change: MembershipChange): Promise<Verdict> {
  const probe = members.filter((m) => !m.isLearner || (change.kind === 'promote' && m.id === change.id));
  const health = await probeMembers(s.client, probe, { signal: s.signal });
  if (s.signal.aborted) throw new BallastError('BALLAST_ERR_CANCELLED', 'failed to probe etcd members: cancelled');
  if (health.problems.size > 0) s.log.info({ unhealthy: Object.fromEntries(health.problems) }, 'some etcd members are not healthy');
  const verdict = judgeMembershipChange({ members, healthy: health.healthy, change });
  const learnerOnly =
    !verdict.allowed && change.kind === 'promote' && judgeMembershipChange({ members, healthy: new Set([...health.healthy, change.id]), change }).allowed;
  return { ...verdict, learnerOnly };
}

function assertVerdict(verdict: Verdict, what: string): void {
  if (!verdict.allowed) throw new BallastError('BALLAST_ERR_QUORUM_GUARD', `failed to ${what}: quorum guard: ${verdict.reason}`);
}

function checkOutcome(verdict: Verdict, message: string, diff: string | undefined): ModuleOutcome {
  if (!verdict.allowed) return { changed: false, skipped: true, message: `would be refused by the quorum guard now: ${verdict.reason}` };
  return { changed: true, message, diff };
}

/**
 * The member with one of our peer URLs, after checking for conflicts: that member started under
 * another name, or a started member has our name but none of our peer URLs.
 */
export function findMember(members: readonly EtcdMember[], args: Pick<Args, 'name' | 'peerUrls'>): EtcdMember | undefined {
  const wanted = new Set(args.peerUrls);
  const match = members.find((m) => m.peerUrls.some((u) => wanted.has(u)));
  if (match !== undefined && match.name !== '' && match.name !== args.name) {
    throw new BallastError(
      'BALLAST_ERR_ETCD_MEMBER_CONFLICT',
      `failed to match etcd member ${args.name}: member ${match.name} (${memberIdHex(match.id)}) already has peer URL ${match.peerUrls.join(',')}`,
      { path: '/args/peerUrls' },
    );
  }
  const namesake = members.find((m) => m.name === args.name && m !== match);
  if (namesake !== undefined) {
    throw new BallastError(
      'BALLAST_ERR_ETCD_MEMBER_CONFLICT',
      `failed to match etcd member ${args.name}: a member of that name (${memberIdHex(namesake.id)}) has other peer URLs (${namesake.peerUrls.join(',')}); remove it first`,
      { path: '/args/name' },
    );
  }
  return match;
}

function describe(m: EtcdMember): string {
  return `${m.isLearner ? 'learner' : 'voter'}${m.name === '' ? ', not started' : ''}, id ${memberIdHex(m.id)}`;
}

/**
 * CA, client certificate and key as PEM. Defaults: the role's CA, and its health-check client
 * pair when present (a client-only certificate is the least privilege that works), else the
 * server pair, which the role issues for both usages. Shared with `etcd_restore`.
 */
export async function loadEtcdTls(
  args: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined },
  ctx: ModuleContext,
  module: 'etcd_member' | 'etcd_restore',
): Promise<{ ca: string; cert: string; key: string }> {
  if ((args.certFile === undefined) !== (args.keyFile === undefined)) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to validate arguments of module ${module}: certFile and keyFile go together`, {
      path: args.certFile === undefined ? '/args/certFile' : '/args/keyFile',
    });
  }
  let certFile = args.certFile;
  let keyFile = args.keyFile;
  if (certFile === undefined || keyFile === undefined) {
    const client = (await lstatOrNull(hostPath(ctx, `${ETCD_PKI_DIR}/healthcheck-client.crt`))) !== null ? 'healthcheck-client' : 'server';
    certFile = `${ETCD_PKI_DIR}/${client}.crt`;
    keyFile = `${ETCD_PKI_DIR}/${client}.key`;
  }
  const read = async (path: string, field: string) => {
    // Resolved outside the try: a hostile path is refused as such, not reported as a missing file.
    const full = hostPath(ctx, path);
    try {
      return await readFile(full, 'utf8');
    } catch (err) {
      throw new BallastError('BALLAST_ERR_CONFIG', `failed to read etcd TLS file ${path}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, {
        cause: err,
        path: `/args/${field}`,
      });
    }
  };
  const [ca, cert, key] = await Promise.all([read(args.caFile ?? `${ETCD_PKI_DIR}/ca.crt`, 'caFile'), read(certFile, 'certFile'), read(keyFile, 'keyFile')]);
  return { ca, cert, key };
}

/** The task deadline firing is our timeout, not a run cancel: say so, with the underlying error. */
function rethrow(err: unknown, ctx: ModuleContext, deadline: AbortSignal, timeoutMs: number, what: string): unknown {
  if (deadline.aborted && !ctx.signal.aborted && !isBallastError(err, 'BALLAST_ERR_QUORUM_GUARD', 'BALLAST_ERR_ETCD_REFUSED')) {
    return new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to ${what} within ${timeoutMs} ms: ${messageOf(err)}`, { cause: err });
  }
  return err;
}
