import { describe, expect, it } from 'vitest';
import { HOST_STATES, type HostState } from '../../../shared/src/api.js';
import { isAllowedTransition, type LivenessInput, nextHostState } from './host-state.js';

const base: LivenessInput = {
  current: 'healthy',
  connected: true,
  lastHeartbeatAt: 10_000,
  failingChecks: 0,
  now: 10_500,
  unreachableAfterMs: 3000,
};

describe('nextHostState', () => {
  it('keeps a host that never sent a heartbeat pending', () => {
    expect(nextHostState({ ...base, current: 'pending', lastHeartbeatAt: null })).toBe('pending');
    expect(nextHostState({ ...base, current: 'pending', lastHeartbeatAt: null, connected: false })).toBe('pending');
  });

  it('moves pending to healthy on the first heartbeat, or degraded if a check fails', () => {
    expect(nextHostState({ ...base, current: 'pending' })).toBe('healthy');
    expect(nextHostState({ ...base, current: 'pending', failingChecks: 2 })).toBe('degraded');
  });

  it('flips between healthy and degraded with the checks', () => {
    expect(nextHostState({ ...base, failingChecks: 1 })).toBe('degraded');
    expect(nextHostState({ ...base, current: 'degraded', failingChecks: 0 })).toBe('healthy');
  });

  it('declares unreachable only after the heartbeat deadline, exactly at the boundary', () => {
    expect(nextHostState({ ...base, now: 13_000 })).toBe('healthy');
    expect(nextHostState({ ...base, now: 13_001 })).toBe('unreachable');
    expect(nextHostState({ ...base, current: 'degraded', now: 20_000 })).toBe('unreachable');
  });

  it('does not flap on a closed socket while the last heartbeat is fresh', () => {
    expect(nextHostState({ ...base, connected: false })).toBe('healthy');
    expect(nextHostState({ ...base, connected: false, current: 'degraded' })).toBe('degraded');
    expect(nextHostState({ ...base, connected: false, now: 14_000 })).toBe('unreachable');
  });

  it('recovers from unreachable when heartbeats resume', () => {
    expect(nextHostState({ ...base, current: 'unreachable' })).toBe('healthy');
    expect(nextHostState({ ...base, current: 'unreachable', failingChecks: 1 })).toBe('degraded');
  });

  it('only ever produces allowed transitions (exhaustive over inputs)', () => {
    for (const current of HOST_STATES) {
      for (const connected of [true, false]) {
        for (const lastHeartbeatAt of [null, 10_000, 6_000]) {
          for (const failingChecks of [0, 1]) {
            const next: HostState = nextHostState({ ...base, current, connected, lastHeartbeatAt, failingChecks });
            if (next !== current) expect(isAllowedTransition(current, next), `${current}→${next}`).toBe(true);
          }
        }
      }
    }
  });
});
