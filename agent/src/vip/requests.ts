/**
 * The agent's side of `req.vip` (shared/src/protocol/vip.ts): the session hands the request to a
 * {@link VipPort} (the VIP manager in production, a fake in tests) through this one exhaustive
 * switch, so adding an action fails to compile until it is answered.
 */
import type { VipAgentStatus, VipExcludeResult, VipHandoverResult, VipRequest } from '../../../shared/src/protocol/vip.js';
import type { VipConfig } from './config.js';
import type { VipStatus } from './ports.js';
import type { RttWindow } from './rtt.js';

/** What the session needs from the VIP manager. */
export interface VipPort {
  /** The current status; never waits on etcd. */
  report(): VipAgentStatus;
  /** Holder only: hands the VIP to `to` (BALLAST_ERR_VIP_NOT_HOLDER otherwise). */
  move(to: string): Promise<VipHandoverResult>;
  /** Writes the exclusion marker; a holder hands over to `to` first (or resigns without one). */
  exclude(opts: { to?: string; reason?: string }): Promise<VipExcludeResult>;
  /** Removes the exclusion marker. */
  include(): Promise<VipAgentStatus>;
}

/** Answers one `req.vip`; the result is what goes into the `res` frame. */
export async function answerVipRequest(req: VipRequest, port: VipPort): Promise<VipAgentStatus | VipHandoverResult | VipExcludeResult> {
  switch (req.action) {
    case 'status':
      return port.report();
    case 'move':
      return port.move(req.to);
    case 'exclude':
      return port.exclude(req.to === undefined ? { reason: 'controller' } : { to: req.to, reason: 'controller' });
    case 'include':
      return port.include();
    default: {
      const unhandled: never = req;
      throw new Error(`unhandled req.vip action ${JSON.stringify(unhandled)}`);
    }
  }
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 10) / 10);

/** Builds the wire status from the manager's parts (config null: no VIP configured). */
export function agentStatus(parts: { host: string; config: VipConfig | null; status: VipStatus; rtt: RttWindow; healthMessage: string; excluded: boolean }): VipAgentStatus {
  const { config: c, status: s } = parts;
  return {
    host: parts.host,
    configured: c !== null,
    name: c?.name ?? null,
    address: c?.address ?? null,
    prefixLength: c?.prefixLength ?? null,
    interface: c?.interface ?? null,
    state: s.state,
    holder: s.holder,
    term: s.term,
    leaseLeftMs: s.leaseLeftMs,
    lastRenewRttMs: s.lastRenewRttMs,
    renewRttP50Ms: round(parts.rtt.quantile(0.5)),
    renewRttP99Ms: round(parts.rtt.quantile(0.99)),
    renewSamples: parts.rtt.size(),
    healthy: s.healthy,
    healthMessage: parts.healthMessage.slice(0, 1024),
    candidate: c?.candidate ?? false,
    excluded: parts.excluded,
  };
}
