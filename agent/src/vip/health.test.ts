import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { NONE_HEALTH } from './config.js';
import { createHealthMonitor, createHealthProbe } from './health.js';

describe('VIP health monitor', () => {
  it('starts unhealthy, rises after `rise` passes and falls after `fall` failures', async () => {
    const results: boolean[] = [];
    let next = true;
    const changes: boolean[] = [];
    const m = createHealthMonitor({
      probe: async () => {
        results.push(next);
        return { ok: next, message: next ? 'ok' : 'down' };
      },
      cfg: { intervalMs: 200, timeoutMs: 100, rise: 2, fall: 3 },
      log: silentLogger(),
      onChange: (h) => changes.push(h),
    });
    expect(m.healthy()).toBe(false);
    await m.tick();
    expect(m.healthy()).toBe(false);
    await m.tick();
    expect(m.healthy()).toBe(true);
    next = false;
    await m.tick();
    await m.tick();
    expect(m.healthy()).toBe(true);
    await m.tick();
    expect(m.healthy()).toBe(false);
    expect(m.lastMessage()).toBe('down');
    expect(changes).toEqual([true, false]);
  });

  it('counts a hung or throwing probe as a failure', async () => {
    let mode: 'hang' | 'throw' = 'hang';
    const m = createHealthMonitor({
      probe: () => (mode === 'hang' ? new Promise(() => undefined) : Promise.reject(new Error('boom'))),
      cfg: { intervalMs: 200, timeoutMs: 20, rise: 1, fall: 1 },
      log: silentLogger(),
      onChange: () => undefined,
    });
    await m.tick();
    expect(m.lastMessage()).toMatch(/no answer within 20 ms/);
    mode = 'throw';
    await m.tick();
    expect(m.lastMessage()).toBe('boom');
    expect(m.healthy()).toBe(false);
  });

  it('kind none is healthy after its first tick and stays so', async () => {
    const changes: boolean[] = [];
    const m = createHealthMonitor({ probe: createHealthProbe(NONE_HEALTH), cfg: NONE_HEALTH, log: silentLogger(), onChange: (h) => changes.push(h) });
    expect(m.healthy()).toBe(false);
    await m.tick();
    expect(m.healthy()).toBe(true);
    for (let i = 0; i < 5; i += 1) await m.tick();
    expect(m.healthy()).toBe(true);
    expect(changes).toEqual([true]);
    expect(m.lastMessage()).toMatch(/kind none/);
  });
});
