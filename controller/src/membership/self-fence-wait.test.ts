import { describe, expect, it } from 'vitest';
import { QUORUM_PROBE_MS, selfFenceDueAt, waitForSelfFence } from './self-fence-wait.js';

const F = { deadlineMs: 60_000, actionBoundMs: 120_000, intervalMs: 2000 };

/** A controller clock that moves only when the wait sleeps. */
function clock(start = 1_000_000) {
  const c = { t: start, slept: [] as number[] };
  return {
    c,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
      await new Promise((r) => setImmediate(r)); // lets the test move the world between probes
    },
  };
}

describe('selfFenceDueAt: the rule', () => {
  it('start + deadline + every margin term; start is the latest of heartbeat, wait start and the member last answering', () => {
    const margin = 120_000 + 2000 + QUORUM_PROBE_MS + 1000 + 5000 + 600 + 2000;
    const base = { selfFence: F, heartbeatIntervalMs: 1000, probeIntervalMs: 5000 };
    expect(selfFenceDueAt({ ...base, lastHeartbeatAt: 10_000, waitStartedAt: 50_000, lastMemberHealthyAt: null })).toBe(50_000 + 60_000 + margin);
    expect(selfFenceDueAt({ ...base, lastHeartbeatAt: 90_000, waitStartedAt: 50_000, lastMemberHealthyAt: 70_000 })).toBe(90_000 + 60_000 + margin);
    expect(selfFenceDueAt({ ...base, lastHeartbeatAt: null, waitStartedAt: 50_000, lastMemberHealthyAt: 95_000 })).toBe(95_000 + 60_000 + margin);
  });
});

describe('waitForSelfFence (injected clock)', () => {
  const opts = (k: ReturnType<typeof clock>, o: { healthy?: () => Promise<boolean>; hb?: () => number | null; signal?: AbortSignal; progress?: string[] } = {}) => ({
    host: 'h3',
    now: k.now,
    lastHeartbeatAt: o.hb ?? (() => 900_000),
    selfFence: F,
    memberHealthy: o.healthy ?? (async () => false),
    heartbeatIntervalMs: 1000,
    probeIntervalMs: 5000,
    sleep: k.sleep,
    signal: o.signal ?? new AbortController().signal,
    progress: (m: string) => o.progress?.push(m),
  });

  it('a dead host with a silent member: fenced exactly at the rule, with progress on the way', async () => {
    const k = clock();
    const progress: string[] = [];
    const msg = await waitForSelfFence(opts(k, { progress }));
    expect(k.c.t).toBe(selfFenceDueAt({ selfFence: F, lastHeartbeatAt: 900_000, waitStartedAt: 1_000_000, lastMemberHealthyAt: null, heartbeatIntervalMs: 1000, probeIntervalMs: 5000 }));
    expect(msg).toMatch(/^h3 counts as fenced \(no fence agent; it fences itself\): no heartbeat since .* self-fence deadline \(60 s\)/);
    expect(progress[0]).toMatch(/waiting for its self-fence deadline to have certainly passed, 194 s left/);
  });

  it('a member that still answers (cut off from the controller only) keeps it waiting; the count starts when it goes silent', async () => {
    const k = clock();
    let answering = true;
    const progress: string[] = [];
    const done = waitForSelfFence(opts(k, { healthy: async () => answering, progress }));
    const silentAt = await (async () => {
      while (k.c.t < 1_000_000 + 600_000) await new Promise((r) => setImmediate(r));
      answering = false;
      return k.c.t;
    })();
    await done;
    expect(progress[0]).toMatch(/its etcd member still answers \(it has quorum, so it does not fence itself\)/);
    expect(k.c.t).toBeGreaterThanOrEqual(silentAt - 5000 + 60_000 + 120_000);
  });

  it('a probe that fails counts as answering (never early); a heartbeat moves the count; abort rejects', async () => {
    const k = clock();
    let hb = 900_000;
    let calls = 0;
    const done = waitForSelfFence(
      opts(k, {
        hb: () => hb,
        healthy: async () => {
          calls++;
          if (calls <= 3) throw new Error('no peer answers');
          if (calls === 10) hb = k.c.t; // the host reconnected briefly
          return false;
        },
      }),
    );
    await done;
    expect(calls).toBeGreaterThan(10);
    const ac = new AbortController();
    ac.abort();
    await expect(waitForSelfFence(opts(clock(), { signal: ac.signal }))).rejects.toMatchObject({ code: 'BALLAST_ERR_CANCELLED' });
  });
});
