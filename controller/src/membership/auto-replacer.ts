/**
 * The automatic replacement loop: every tick, for each cluster whose spec has `autoReplace`, the
 * policy (auto-policy.ts) decides from the live fleet — a host is down while its agent is
 * unreachable or its Node is NotReady (read through the cluster's API each tick), since the earlier — and a `replace` starts a `node.replace`
 * operation by `auto-replace` — the same operation, gates, quorum guard and fencing as an
 * operator's. The spares are the spec's list, or (`sparePool: key=value`) the enrolled hosts with
 * that label at this tick, by name; either way a spare must be enrolled, connected, not down and in
 * no cluster. Every decision that differs from the cluster's previous one is an event
 * (`autoreplace.decision`), and `ballast_replacements_total{outcome}` counts started, refused and
 * held replacements; after every tick the current state of each cluster with a policy — its
 * decision, hosts down, usable spares — is reported ({@link AutoReplaceState}: the
 * `ballast_autoreplace_*` gauges). Off unless a cluster's spec has the policy.
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { LabelSelector } from '../../../shared/src/labels.js';
import type { NewEvent } from '../store/events.js';
import type { OperationEngine } from '../ops/engine.js';
import type { OperationListItem } from '../../../shared/src/ops-api.js';
import { type AutoDecision, autoPolicyOf, decideAutoReplace } from './auto-policy.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { NodeSummary } from '../kube/client.js';
import { type SpecSource, startMembershipChange } from './start.js';
import { type MembershipDeps, NODE_REPLACE } from './types.js';

/** The actor automatic replacements are started by. */
export const AUTO_ACTOR = 'auto-replace';

/** One cluster's automatic-replacement state after a tick. */
export interface AutoReplaceState {
  cluster: string;
  decision: AutoDecision['kind'];
  hostsDown: number;
  sparesUsable: number;
}

/** Options of {@link AutoReplacer}. */
export interface AutoReplacerOptions {
  specs: SpecSource;
  membership: MembershipDeps;
  ops: Pick<OperationEngine, 'start' | 'list' | 'find'>;
  /**
   * The enrolled hosts with label `selector` (the spec's `sparePool`), read at every tick so a host
   * labelled (or unlabelled) by an operator counts from the next one. Order does not matter: sorted here.
   */
  labelled(selector: LabelSelector): string[];
  /** When each host's agent went down (unreachable since), null when up or unknown. */
  downSince(host: string): number | null;
  /**
   * The cluster's Nodes through its API (the VIP), for the other trigger: a Node NotReady for
   * `after` counts as down too, even while its agent answers (kubelet dead, the host otherwise up).
   * Rejects or null when the API does not answer: then only the agents' reachability counts.
   */
  nodesOf?: (spec: ClusterSpec) => Promise<Pick<NodeSummary, 'name' | 'notReadySince'>[] | null>;
  events: { append(event: NewEvent): unknown };
  /** ballast_replacements_total{outcome}. */
  count?: (outcome: 'started' | 'refused' | 'held') => void;
  /** Every cluster with a policy, after each tick (clusters without one are absent). */
  report?: (states: AutoReplaceState[]) => void;
  log: Logger;
  now?: () => number;
}

/** See the file comment. */
export class AutoReplacer {
  private readonly last = new Map<string, string>();
  private readonly apiProblem = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly o: AutoReplacerOptions) {}

  /** Evaluates every cluster once; returns the decisions (for tests). */
  async tick(): Promise<Map<string, AutoDecision>> {
    const out = new Map<string, AutoDecision>();
    const states: AutoReplaceState[] = [];
    const now = (this.o.now ?? Date.now)();
    const specs = this.o.specs.clusters().flatMap((c) => {
      const s = this.o.specs.current(c);
      return s === null ? [] : [s];
    });
    const members = new Set(specs.flatMap((s) => s.hosts.map((h) => h.name)));
    // The newest operations, read once per tick: what runs now and when the last automatic replacement ended.
    const recent = this.o.ops.list(200);
    for (const spec of specs) {
      const policy = autoPolicyOf(spec);
      if (policy === null) continue;
      const names = policy.spares.kind === 'list' ? policy.spares.hosts : [...this.o.labelled(policy.spares.selector)].sort();
      const spares = names.map((name) => {
        const h = this.o.membership.hosts.find(name);
        if (members.has(name)) return { name, usable: false, why: 'already in a cluster' };
        if (h === null) return { name, usable: false, why: 'not enrolled' };
        if (!h.connected || this.o.downSince(name) !== null) return { name, usable: false, why: 'not connected' };
        return { name, usable: true };
      });
      const notReady = await this.notReadySince(spec);
      // Down since the earlier of: its agent unreachable, its Node NotReady.
      const downSince = (name: string): number | null => {
        const times = [this.o.downSince(name), notReady.get(name) ?? null].filter((t): t is number => t !== null);
        return times.length === 0 ? null : Math.min(...times);
      };
      const decision = decideAutoReplace({
        policy,
        hosts: spec.hosts.map((h) => ({ name: h.name, downSince: downSince(h.name) })),
        spares,
        running: this.o.membership.repo.lock(spec.name) === null ? 0 : 1,
        ...busyWith(recent, spec.name),
        lastReplacementAt: this.lastAutoReplacement(recent, spec.name),
        now,
      });
      out.set(spec.name, decision);
      const hostsDown = spec.hosts.filter((h) => downSince(h.name) !== null).length;
      states.push({ cluster: spec.name, decision: decision.kind, hostsDown, sparesUsable: spares.filter((x) => x.usable).length });
      if (decision.kind === 'hold') this.note(spec.name, decision, 'held');
      else if (decision.kind !== 'replace') this.note(spec.name, decision);
      else {
        try {
          const doc = await startMembershipChange(NODE_REPLACE, { old: decision.old, add: decision.spare, check: false, diff: false }, { ops: this.o.ops, deps: this.o.membership, specs: this.o.specs, actor: AUTO_ACTOR });
          this.note(spec.name, { ...decision, reason: `${decision.reason} (${doc.id})` }, 'started');
        } catch (err) {
          this.note(spec.name, { kind: 'wait', reason: `replacing ${decision.old} with ${decision.spare} was refused: ${messageOf(err)}` }, 'refused');
        }
      }
    }
    this.o.report?.(states);
    return out;
  }

  /** Ticks every `intervalMs` (one at a time). */
  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.tick()
        .catch((err: unknown) => this.o.log.error({ err }, 'automatic replacement tick failed'))
        .finally(() => {
          this.busy = false;
        });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** NotReady Nodes of the cluster and since when; empty when the API does not answer (logged once per change). */
  private async notReadySince(spec: ClusterSpec): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (this.o.nodesOf === undefined) return out;
    let problem = '';
    try {
      const nodes = await this.o.nodesOf(spec);
      if (nodes === null) problem = 'no answer';
      for (const n of nodes ?? []) if (n.notReadySince !== null) out.set(n.name, n.notReadySince);
    } catch (err) {
      problem = messageOf(err);
    }
    if (problem !== (this.apiProblem.get(spec.name) ?? '')) {
      if (problem === '') this.o.log.info({ cluster: spec.name }, 'Node readiness readable again through the API');
      else this.o.log.warn({ cluster: spec.name, err: problem }, 'cannot read Node readiness through the API; only unreachable agents count as down');
      this.apiProblem.set(spec.name, problem);
    }
    return out;
  }

  /** The end of the newest successful automatic replacement of `cluster`. */
  private lastAutoReplacement(recent: readonly OperationListItem[], cluster: string): number | null {
    for (const item of recent) {
      if (item.kind !== NODE_REPLACE || item.cluster !== cluster || item.state !== 'succeeded') continue;
      const op = this.o.ops.find(item.id);
      if (op.createdBy === AUTO_ACTOR) return op.endedAt ?? op.updatedAt;
    }
    return null;
  }

  /** An event when the decision changed; the counter every time it applies. */
  private note(cluster: string, d: AutoDecision, outcome?: 'started' | 'refused' | 'held'): void {
    if (outcome !== undefined && (outcome !== 'held' || this.last.get(cluster) !== d.reason)) this.o.count?.(outcome);
    if (this.last.get(cluster) === d.reason) return;
    this.last.set(cluster, d.reason);
    this.o.log.info({ cluster, decision: d.kind, reason: d.reason }, 'automatic replacement decision');
    this.o.events.append({ host: d.kind === 'replace' ? d.old : null, kind: 'autoreplace.decision', message: `cluster ${cluster}: ${d.kind}: ${d.reason}`, data: { cluster, decision: d.kind } });
  }
}

/** The operation running on `cluster` now, if any (`busyWith` of the policy). */
function busyWith(recent: readonly OperationListItem[], cluster: string): { busyWith?: string } {
  const op = recent.find((o) => o.cluster === cluster && (o.state === 'running' || o.state === 'pending'));
  return op === undefined ? {} : { busyWith: `${op.kind} ${op.id}` };
}
