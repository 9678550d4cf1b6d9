/**
 * Test fixtures of the hub (STYLE.md §12): a {@link SessionContext} whose ports go nowhere unless a
 * test passes its own. No test-framework imports; never compiled into dist.
 */
import { silentLogger } from '../../../shared/src/log.js';
import { agentFrameDecoder } from '../../../shared/src/protocol/codec.js';
import { createMetrics } from '../metrics.js';
import type { SessionContext } from './agent-session.js';
import type { HostTracker } from './host-tracker.js';

/** A session store that drops everything. */
export const NULL_SESSION_STORE: SessionContext['store'] = {
  recordHeartbeat: () => {},
  saveConnection: () => {},
  saveFacts: () => {},
  saveHealth: () => {},
  event: () => {},
};

/** A session context over `tracker`: a store that drops everything, silent logs, 1 s heartbeats. */
export function testSessionContext(tracker: HostTracker, overrides: Partial<SessionContext> = {}): SessionContext {
  return {
    store: NULL_SESSION_STORE,
    tracker,
    metrics: createMetrics({ collectProcess: false }),
    decoder: agentFrameDecoder(),
    log: silentLogger(),
    now: Date.now,
    heartbeatIntervalMs: 1000,
    healthIntervalMs: 15_000,
    helloTimeoutMs: 10_000,
    maxRejectedPer10s: 10,
    ...overrides,
  };
}
