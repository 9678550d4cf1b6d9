/**
 * The automatic replacement policy as one pure decision (no I/O, unit-tested): given how long each
 * cluster host has been down, the spares, whether a membership change is running and when the last
 * automatic one finished, either replace one host by one spare, or say why not.
 *
 * Rules, in order (each refusal is an event, so an operator can see why nothing happened):
 * 1. nothing down: nothing to do;
 * 2. more than `maxUnhealthy` of the cluster down: **hold** — a network partition or a power event,
 *    not dead hosts; replacing would make it worse (Cluster API's MachineHealthCheck maxUnhealthy);
 * 3. a membership change running (the lock is held): wait (`maxConcurrent: 1`); any other operation
 *    running on the cluster (a create: its Nodes are NotReady while they join): wait;
 * 4. the last automatic replacement finished less than `minHealthyPeriod` ago: wait (a rate limit:
 *    a flapping fleet is not drained of spares in minutes);
 * 5. no host down for `after` yet: wait, naming the first and when it will be due;
 * 6. no spare connected, healthy and outside every cluster: wait, saying so (an empty pool too);
 * 7. otherwise replace the host down longest with the first usable spare.
 *
 * The spares are the spec's list in its order, or (`sparePool`) the enrolled hosts with the label,
 * by name; the caller resolves them (auto-replacer.ts) and decisions name the pool.
 */
import { formatDuration, parseDuration } from '../../../shared/src/duration.js';
import { type LabelSelector, parseLabelSelector } from '../../../shared/src/labels.js';
import type { ClusterSpec } from '../cluster/spec.js';

/** Where a policy's spares come from: a list in the spec, or every host with a label. */
export type SpareSource = { kind: 'list'; hosts: string[] } | { kind: 'pool'; selector: LabelSelector; text: string };

/** The policy with durations in ms. */
export interface AutoPolicy {
  afterMs: number;
  spares: SpareSource;
  maxConcurrent: number;
  minHealthyPeriodMs: number;
  maxUnhealthyPercent: number;
}

/** What the decision needs to know. */
export interface AutoInput {
  policy: AutoPolicy;
  /** Every host of the cluster, with when it went down (null: up). */
  hosts: { name: string; downSince: number | null }[];
  spares: { name: string; usable: boolean; why?: string }[];
  /** Membership changes in progress for this cluster. */
  running: number;
  /** Another operation running on the cluster (`cluster.create op-…`), if any: nothing starts meanwhile. */
  busyWith?: string;
  /** When the last automatic replacement finished, or null. */
  lastReplacementAt: number | null;
  now: number;
}

/** The outcome. */
export type AutoDecision = { kind: 'replace'; old: string; spare: string; reason: string } | { kind: 'hold'; reason: string } | { kind: 'wait'; reason: string } | { kind: 'none'; reason: string };

/** The policy of a spec with durations parsed; null when the cluster has none. */
export function autoPolicyOf(spec: ClusterSpec): AutoPolicy | null {
  const a = spec.autoReplace;
  if (a === undefined) return null;
  return {
    afterMs: parseDuration(a.after) ?? 300_000,
    spares: sparesOf(a.spares, a.sparePool),
    maxConcurrent: a.maxConcurrent,
    minHealthyPeriodMs: parseDuration(a.minHealthyPeriod) ?? 3_600_000,
    maxUnhealthyPercent: Number.parseInt(a.maxUnhealthy, 10),
  };
}

// checkClusterDocument guarantees exactly one of the two, and a valid selector.
function sparesOf(list: string[] | undefined, pool: string | undefined): SpareSource {
  const selector = pool === undefined ? null : parseLabelSelector(pool);
  if (pool !== undefined && selector !== null) return { kind: 'pool', selector, text: pool };
  return { kind: 'list', hosts: [...(list ?? [])] };
}

/** See the file comment. */
export function decideAutoReplace(input: AutoInput): AutoDecision {
  const { policy, now } = input;
  const down = input.hosts.filter((h) => h.downSince !== null).sort((a, b) => (a.downSince ?? 0) - (b.downSince ?? 0));
  if (down.length === 0) return { kind: 'none', reason: 'every host is up' };
  const total = input.hosts.length;
  const percent = (down.length * 100) / total;
  if (percent > policy.maxUnhealthyPercent) {
    return {
      kind: 'hold',
      reason: `${down.length} of ${total} hosts down (${Math.round(percent)}% > maxUnhealthy ${policy.maxUnhealthyPercent}%): a partition or a power event, not dead hosts; nothing is replaced automatically`,
    };
  }
  if (input.running >= policy.maxConcurrent) return { kind: 'wait', reason: `a membership change is in progress (maxConcurrent ${policy.maxConcurrent})` };
  // A create, reset or recovery in progress: its hosts come and go, and their Nodes are NotReady while they join.
  if (input.busyWith !== undefined) return { kind: 'wait', reason: `${input.busyWith} is running on the cluster` };
  if (input.lastReplacementAt !== null && now - input.lastReplacementAt < policy.minHealthyPeriodMs) {
    const left = policy.minHealthyPeriodMs - (now - input.lastReplacementAt);
    return { kind: 'wait', reason: `the last automatic replacement finished ${formatDuration(now - input.lastReplacementAt)} ago; the next may start in ${formatDuration(left)} (minHealthyPeriod)` };
  }
  const due = down.filter((h) => now - (h.downSince ?? now) >= policy.afterMs);
  const first = down[0];
  if (due.length === 0 || first === undefined) {
    const since = now - (first?.downSince ?? now);
    return { kind: 'wait', reason: `${first?.name} down for ${formatDuration(since)}; replaced after ${formatDuration(policy.afterMs)}` };
  }
  const old = due[0];
  const spare = input.spares.find((s) => s.usable);
  if (old === undefined) return { kind: 'none', reason: 'nothing due' };
  const pool = policy.spares.kind === 'pool' ? policy.spares.text : null;
  if (spare === undefined) {
    const why = input.spares.map((s) => `${s.name}: ${s.why ?? 'unusable'}`).join('; ');
    if (pool !== null && input.spares.length === 0) return { kind: 'wait', reason: `${old.name} is due for replacement but the spare pool ${pool} is empty (no enrolled host has the label)` };
    return { kind: 'wait', reason: `${old.name} is due for replacement but no spare${pool === null ? '' : ` of the pool ${pool}`} is usable${why === '' ? '' : ` (${why})`}` };
  }
  const from = pool === null ? '' : ` from the spare pool ${pool}`;
  return { kind: 'replace', old: old.name, spare: spare.name, reason: `${old.name} down for ${formatDuration(now - (old.downSince ?? now))} (≥ ${formatDuration(policy.afterMs)}): replacing it with ${spare.name}${from}` };
}
