import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/src/log.js';
import { removeExcludedIfReason, writeExcluded } from './vip/exclusion.js';
import { createSelfFence, isSelfFenced, LAST_CONTACT_FILE, SELF_FENCED_MARKER } from './self-fence.js';

/** A host whose clock, controller session and etcd quorum the test moves by hand; the marker files are real. */
function world(deadlineMs = 60_000) {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-selffence-'));
  const s = {
    dir,
    mono: 1_000_000,
    wall: 1_700_000_000_000,
    connected: true,
    lastContact: null as number | null,
    quorum: true as boolean | null | 'throw',
    calls: [] as string[],
    unfenceFails: false,
    fenceFails: false,
  };
  const fence = createSelfFence({
    dataDir: dir,
    deadlineMs,
    now: () => s.mono,
    wallNow: () => s.wall,
    lastContactAt: () => s.lastContact,
    connected: () => s.connected,
    quorum: async () => {
      if (s.quorum === 'throw') throw new Error('context deadline exceeded');
      return s.quorum;
    },
    fence: async (reason) => {
      s.calls.push(`fence: ${reason}`);
      return s.fenceFails ? ['stop kubelet.service: timed out'] : [];
    },
    unfence: async () => {
      s.calls.push('unfence');
      return s.unfenceFails ? ['start etcd.service: failed'] : [];
    },
    log: silentLogger(),
  });
  const advance = (ms: number) => {
    s.mono += ms;
    s.wall += ms;
  };
  return { s, fence, advance };
}

describe('self-fence (injected clocks, real marker files)', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const make = (deadlineMs?: number) => {
    const w = world(deadlineMs);
    dirs.push(w.s.dir);
    return w;
  };

  it('fences once the controller AND etcd quorum have been lost for the deadline, counted from the last contact', async () => {
    const { s, fence, advance } = make();
    await fence.start();
    s.lastContact = s.mono;
    await fence.tick(); // connected
    s.connected = false;
    s.quorum = 'throw';
    advance(59_999);
    await fence.tick();
    expect(fence.fenced()).toBe(false);
    advance(1);
    await fence.tick();
    expect(fence.fenced()).toBe(true);
    expect(s.calls).toEqual(['fence: no controller and no etcd quorum for 60 s (deadline 60 s)']);
    expect(await isSelfFenced(s.dir)).toBe(true);
    expect(JSON.parse(readFileSync(join(s.dir, SELF_FENCED_MARKER), 'utf8'))).toMatchObject({ reason: expect.stringMatching(/no controller/) });
    await fence.stop();
  });

  it('a fence step that failed is tried again at the next check, and only then', async () => {
    const { s, fence, advance } = make(1000);
    await fence.start();
    s.connected = false;
    s.quorum = false;
    s.fenceFails = true;
    advance(1000);
    await fence.tick();
    s.fenceFails = false;
    await fence.tick();
    await fence.tick();
    expect(s.calls).toEqual(['fence: no controller and no etcd quorum for 1 s (deadline 1 s)', 'fence: self-fence: retrying the steps that failed']);
  });

  it('does not fence without the controller while etcd quorum holds (a controller restart stops nothing)', async () => {
    const { s, fence, advance } = make();
    await fence.start();
    s.connected = false;
    for (let i = 0; i < 100; i++) {
      advance(5_000);
      await fence.tick();
    }
    expect(fence.fenced()).toBe(false);
    // Quorum lost now: the deadline counts from the last proven quorum, not from the last contact.
    s.quorum = false;
    advance(59_000);
    await fence.tick();
    expect(fence.fenced()).toBe(false);
    advance(1_000);
    await fence.tick();
    expect(fence.fenced()).toBe(true);
  });

  it('does not fence while connected, even without quorum; and a host without an etcd member never fences', async () => {
    const { s, fence, advance } = make();
    await fence.start();
    s.quorum = false;
    advance(600_000);
    await fence.tick();
    expect(fence.fenced()).toBe(false);
    s.connected = false;
    s.quorum = null;
    advance(600_000);
    await fence.tick();
    expect(fence.fenced()).toBe(false);
  });

  it('a restarted agent fences again at once from its marker, and un-fences only once the controller accepts it', async () => {
    const { s, fence } = make();
    writeFileSync(join(s.dir, SELF_FENCED_MARKER), '{}\n');
    s.connected = false;
    await fence.start();
    expect(fence.fenced()).toBe(true);
    expect(s.calls).toEqual(['fence: self-fenced earlier (marker in the data dir)']);
    await fence.tick();
    expect(s.calls).toHaveLength(1);
    s.connected = true;
    s.unfenceFails = true;
    await fence.tick();
    expect(fence.fenced()).toBe(true);
    expect(await isSelfFenced(s.dir)).toBe(true);
    s.unfenceFails = false;
    await fence.tick();
    expect(fence.fenced()).toBe(false);
    expect(await isSelfFenced(s.dir)).toBe(false);
    expect(s.calls).toEqual(['fence: self-fenced earlier (marker in the data dir)', 'unfence', 'unfence']);
    await fence.stop();
  });

  it('counts from the persisted last contact after a restart (a reboot during a partition does not push the deadline back)', async () => {
    const first = make();
    await first.fence.start();
    await first.fence.tick(); // connected: persists the contact time
    expect(existsSync(join(first.s.dir, LAST_CONTACT_FILE))).toBe(true);
    await first.fence.stop();
    // The host reboots 50 s later, cut off: a new agent on the same data dir.
    const s = { ...first.s, mono: 5_000, wall: first.s.wall + 50_000, calls: [] as string[] };
    const again = createSelfFenceOn(first.s.dir, s);
    s.connected = false;
    s.quorum = false;
    await again.start();
    s.mono += 9_999;
    s.wall += 9_999;
    await again.tick();
    expect(again.fenced()).toBe(false);
    s.mono += 1;
    s.wall += 1;
    await again.tick();
    expect(again.fenced()).toBe(true);
  });
});

/** A self-fence over `dir` driven by `s` (the restart case: the data dir outlives the process). */
function createSelfFenceOn(dir: string, s: ReturnType<typeof world>['s']) {
  return createSelfFence({
    dataDir: dir,
    deadlineMs: 60_000,
    now: () => s.mono,
    wallNow: () => s.wall,
    lastContactAt: () => null,
    connected: () => s.connected,
    quorum: async () => (s.quorum === 'throw' ? false : s.quorum),
    fence: async (reason) => {
      s.calls.push(`fence: ${reason}`);
      return [];
    },
    unfence: async () => [],
    log: silentLogger(),
  });
}

describe('removeExcludedIfReason (the self-fence lifts only its own VIP exclusion)', () => {
  it('removes a self-fence exclusion, keeps an operator one and a hand-made one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-selffence-vip-'));
    try {
      const file = join(dir, 'vip-excluded');
      await writeExcluded(file, { host: 'h1', at: 0, reason: 'self-fence: no controller and no etcd quorum for 60 s' });
      expect(await removeExcludedIfReason(file, 'self-fence:')).toBe(true);
      expect(existsSync(file)).toBe(false);
      await writeExcluded(file, { host: 'h1', at: 0, reason: 'maintenance by admin' });
      expect(await removeExcludedIfReason(file, 'self-fence:')).toBe(false);
      expect(existsSync(file)).toBe(true);
      writeFileSync(file, '');
      expect(await removeExcludedIfReason(file, 'self-fence:')).toBe(false);
      expect(existsSync(file)).toBe(true);
      rmSync(file);
      expect(await removeExcludedIfReason(file, 'self-fence:')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
