/**
 * A replaced host that comes back (power restored, partition healed) boots with kubelet enabled
 * and its old `kubelet.conf`: before its agent hears from the controller, kubelet registers its
 * Node again through the VIP (the Node API lets a node create its own object) — seen in the
 * real-Kubernetes lab. Its agent then stands down (agent/src/stand-down.ts), but the Node object
 * stays, a stale NotReady node next to the replacement. So every time the controller refuses such
 * a host (BALLAST_ERR_HOST_TAKEN_OUT), it deletes that Node in the cluster the host was taken out
 * of — unless the cluster has a host of that name again (a name reused for a new machine).
 * At most once per host every `minIntervalMs` (the agent reconnects with a backoff).
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import { kubeApiOptions, pkiInputs } from '../bootstrap/cluster-facts.js';
import type { NewEvent } from '../store/events.js';
import { ensureNodeDeleted } from './drain.js';
import { TAKEN_OUT_REASON } from './executors-flow.js';
import type { SpecSource } from './start.js';
import type { MembershipDeps } from './types.js';

/** What {@link ReturnedHostCleaner} needs. */
export interface ReturnedHostOptions {
  specs: SpecSource;
  membership: Pick<MembershipDeps, 'bootstrap' | 'kubeNodes'>;
  /** The cluster an operation ran on (null when unknown). */
  clusterOf(operationId: string): string | null;
  events: { append(event: NewEvent): unknown };
  log: Logger;
  minIntervalMs?: number;
  now?: () => number;
}

/** The operation id in a revocation reason `taken out of its cluster by OP (KIND)`, or null. */
export function operationOfReason(reason: string): string | null {
  if (!reason.startsWith(TAKEN_OUT_REASON)) return null;
  const m = /^ (\S+) \(/.exec(reason.slice(TAKEN_OUT_REASON.length));
  return m?.[1] ?? null;
}

/** See the file comment. */
export class ReturnedHostCleaner {
  private readonly last = new Map<string, number>();

  constructor(private readonly o: ReturnedHostOptions) {}

  /**
   * Called on each refusal of a taken-out host; never throws (a failure is logged, the next
   * refusal tries again). Resolves with what it did, for tests and the log.
   */
  async refused(host: string, reason: string): Promise<string> {
    const now = (this.o.now ?? Date.now)();
    const since = this.last.get(host);
    if (since !== undefined && now - since < (this.o.minIntervalMs ?? 5000)) return 'skipped: checked recently';
    this.last.set(host, now);
    try {
      const op = operationOfReason(reason);
      const cluster = op === null ? null : this.o.clusterOf(op);
      if (cluster === null) return `skipped: no cluster known for "${reason}"`;
      const spec = this.o.specs.current(cluster);
      if (spec === null) return `skipped: cluster ${cluster} has no spec`;
      if (spec.hosts.some((h) => h.name === host)) return `skipped: cluster ${cluster} has a host named ${host} again`;
      const pki = await this.o.membership.bootstrap.readPki(spec.name, pkiInputs(spec));
      const out = await ensureNodeDeleted(this.o.membership.kubeNodes(kubeApiOptions(spec, pki)), host);
      if (out.changed) {
        this.o.log.warn({ host, cluster }, 'a taken-out host registered its Node again: deleted it');
        this.o.events.append({ host, kind: 'node.stale-deleted', message: `Node ${host} was registered again by the taken-out host (kubelet at boot): deleted from cluster ${cluster}`, data: { cluster } });
      }
      return out.message;
    } catch (err) {
      this.o.log.error({ host, err: messageOf(err) }, 'failed to check for a Node registered again by a taken-out host');
      return `failed: ${messageOf(err)}`;
    }
  }
}
