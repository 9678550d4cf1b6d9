import { describe, expect, it } from 'vitest';
import { fleetHostView } from './wiring.js';

// A power cut closes no socket: the session stays open while the heartbeats stop. Membership must
// count such a host as unreachable (fence it), never as online (drain and reset a dead machine).
describe('fleetHostView', () => {
  it('an open session with fresh heartbeats is reachable', () => {
    expect(fleetHostView({ connected: true, state: 'healthy', address: '10.0.0.1' })).toEqual({ connected: true, address: '10.0.0.1', lastHeartbeatAt: null, selfFence: null });
    expect(fleetHostView({ connected: true, state: 'degraded', address: null }).connected).toBe(true);
  });

  it('an open session whose heartbeats stopped (unreachable) is not', () => {
    expect(fleetHostView({ connected: true, state: 'unreachable', address: '10.0.0.1' }).connected).toBe(false);
  });

  it('carries the last heartbeat and the self-fence facts for the deadline fence', () => {
    const selfFence = { deadlineMs: 60_000, actionBoundMs: 120_000, intervalMs: 2000 };
    const facts = { selfFence } as unknown as Parameters<typeof fleetHostView>[0]['facts'];
    expect(fleetHostView({ connected: false, state: 'unreachable', address: null, lastHeartbeatAt: 42, facts })).toMatchObject({ lastHeartbeatAt: 42, selfFence });
  });

  it('a closed session is not, whatever the state says', () => {
    expect(fleetHostView({ connected: false, state: 'healthy', address: '10.0.0.1' }).connected).toBe(false);
  });
});
