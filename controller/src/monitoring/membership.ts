import type { MemberRow } from './read-model.js';

/** Where membership comes from (MonitoringReadModel). */
export interface MembershipSource {
  members(): MemberRow[];
}

/**
 * Which cluster each host belongs to, read again at most every `ttlMs` (a scrape reads it several
 * times, an agent event may ask for it on every repair). A host listed by two clusters' specs
 * (possible only while an old cluster was not reset) belongs to the first by name.
 */
export class Membership {
  readonly #source: MembershipSource;
  readonly #now: () => number;
  readonly #ttlMs: number;
  #at = Number.NEGATIVE_INFINITY;
  #rows: MemberRow[] = [];
  #byHost = new Map<string, string>();

  constructor(options: { source: MembershipSource; now: () => number; ttlMs?: number }) {
    this.#source = options.source;
    this.#now = options.now;
    this.#ttlMs = options.ttlMs ?? 1000;
  }

  /** Every (cluster, host) row, fresh within the TTL. */
  rows(): readonly MemberRow[] {
    const now = this.#now();
    if (now - this.#at >= this.#ttlMs) {
      this.#rows = this.#source.members();
      this.#byHost = new Map();
      for (const r of this.#rows) if (!this.#byHost.has(r.host)) this.#byHost.set(r.host, r.cluster);
      this.#at = now;
    }
    return this.#rows;
  }

  /** The host's cluster, or '' (Prometheus drops an empty label, so the series simply has none). */
  clusterOf(host: string): string {
    this.rows();
    return this.#byHost.get(host) ?? '';
  }
}
