/**
 * Turns the agents' individual VIP reports into one view per VIP (pure; vip/service.ts feeds it).
 * The holder's own answer wins; when no reachable host holds the VIP, the newest holder the others
 * last read from etcd is shown as `observed` (it may be alive but cut off from the controller).
 */
import type { VipAgentStatus } from '../../../shared/src/protocol/vip.js';
import type { VipCandidate, VipView } from '../../../shared/src/vip-api.js';

/** What the service knows about one host with a VIP configured. */
export interface HostReport {
  host: string;
  /** Answered this round. */
  reachable: boolean;
  /** Its last successful report (possibly from an earlier round), or null. */
  report: VipAgentStatus | null;
  /** When `report` was taken (ms since the epoch). */
  at: number | null;
  error: { code: string; message: string } | null;
}

/** Compares decimal terms of any length (etcd revisions are int64). */
export function compareTerms(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : 1;
}

/** One host as the API shows it. */
export function candidateOf(r: HostReport): VipCandidate {
  const s = r.report;
  return {
    host: r.host,
    reachable: r.reachable,
    error: r.error,
    observedAt: r.at === null ? null : new Date(r.at).toISOString(),
    state: s === null ? 'unknown' : s.state,
    healthy: s?.healthy ?? false,
    healthMessage: s?.healthMessage ?? '',
    candidate: s?.candidate ?? false,
    excluded: s?.excluded ?? false,
    sees: s?.holder ?? null,
    lastRenewRttMs: s?.lastRenewRttMs ?? null,
    renewRttP50Ms: s?.renewRttP50Ms ?? null,
    renewRttP99Ms: s?.renewRttP99Ms ?? null,
  };
}

/** Groups reports by VIP name (hosts without a configured VIP are left out) and picks holders. */
export function aggregate(reports: readonly HostReport[]): VipView[] {
  const groups = new Map<string, HostReport[]>();
  /** VIP hosts that never answered this controller: their VIP is unknown, so every view lists them. */
  const unknown: HostReport[] = [];
  for (const r of reports) {
    if (r.report === null) {
      unknown.push(r);
      continue;
    }
    const name = r.report.configured ? r.report.name : null;
    if (name === null) continue;
    const list = groups.get(name) ?? [];
    list.push(r);
    groups.set(name, list);
  }
  for (const list of groups.values()) list.push(...unknown);
  const views: VipView[] = [];
  for (const [name, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort((a, b) => a.host.localeCompare(b.host));
    // Two reachable self-declared holders cannot happen (agent/src/vip/README.md, the timing
    // proof); should reports cross during a handover, the newer term is the real one.
    const holders = list.filter((r) => r.reachable && r.report?.state === 'holder').sort((a, b) => compareTerms(b.report?.term ?? null, a.report?.term ?? null));
    const self = holders[0]?.report ?? null;
    let holder: string | null = null;
    let term: string | null = null;
    let source: VipView['holderSource'] = 'none';
    if (self !== null) {
      holder = self.host;
      term = self.term;
      source = 'holder';
    } else {
      for (const r of list) {
        const s = r.report;
        if (!r.reachable || s === null || s.holder === null) continue;
        if (holder === null || compareTerms(s.term, term) > 0) {
          holder = s.holder;
          term = s.term;
          source = 'observed';
        }
      }
    }
    const first = (self ?? list.find((r) => r.report !== null)?.report) as VipAgentStatus;
    views.push({
      name,
      address: first.address ?? '',
      prefixLength: first.prefixLength ?? 32,
      interface: first.interface ?? '',
      holder,
      holderSource: source,
      term,
      leaseLeftMs: self?.leaseLeftMs ?? null,
      candidates: list.map(candidateOf),
    });
  }
  return views;
}

/**
 * The best host to hand over to: reachable, a healthy candidate that is not excluded, lowest
 * renewal p99 (a host whose etcd member answers slowly makes a worse holder), then by name.
 */
export function bestCandidate(view: VipView, except: string): VipCandidate | null {
  const fit = view.candidates.filter((c) => c.host !== except && c.reachable && c.state === 'candidate' && c.healthy && c.candidate && !c.excluded);
  fit.sort((a, b) => (a.renewRttP99Ms ?? Number.POSITIVE_INFINITY) - (b.renewRttP99Ms ?? Number.POSITIVE_INFINITY) || a.host.localeCompare(b.host));
  return fit[0] ?? null;
}
