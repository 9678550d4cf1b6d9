/**
 * Self-fencing (issue 12, "Fencing"): a host with no fence agent must take itself out when it can
 * no longer tell whether the cluster has replaced it, so that the controller may count it fenced
 * once a deadline has certainly passed (controller/src/membership/self-fence-wait.ts).
 *
 * Rule: the agent fences itself once it has had, continuously for `deadlineMs` on its own
 * monotonic clock, BOTH
 *   - no message from the controller (measured from the last one received, not from when the
 *     socket noticed: a half-open connection counts as lost), AND
 *   - no etcd quorum: a linearizable read through its own etcd member did not succeed (such a read
 *     needs a leader backed by a majority, so a minority side of a partition fails it).
 * Either one alone is not enough: a controller restart must not stop a healthy fleet's workloads,
 * and a host that still reaches the controller is fenced by it, not by itself.
 *
 * Fencing is the stand-down of a taken-out host (stand-down.ts), reused: the supervisor paused,
 * the VIP exclusion marker (the election itself already lets go without etcd: its lease cannot be
 * renewed), kubelet stopped, every pod removed (the control plane's static pods outlive kubelet),
 * etcd stopped. Units are stopped, not disabled: a fenced host is still a member and comes back.
 * A marker (`self-fenced`, atomic) is written first, so a restarted agent fences again at once.
 *
 * It recovers only on the controller's word: when a session is accepted again (the controller
 * refuses a replaced or removed host with BALLAST_ERR_HOST_TAKEN_OUT, and that path stands down
 * for good), it un-fences: marker removed, etcd and kubelet started, supervisor and VIP resumed.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../shared/src/atomic-file.js';
import { messageOf } from '../../shared/src/errors.js';
import { lstatOrNull } from './tasks/attrs.js';

/** The marker's file name in the agent's data dir. */
export const SELF_FENCED_MARKER = 'self-fenced';
/**
 * The wall-clock time of the last controller contact, persisted (atomic, at most every
 * {@link CONTACT_PERSIST_MS}) so that an agent started later — a reboot during a partition — counts
 * its deadline from that contact, not from its own start: the controller counts from its last
 * heartbeat, so counting from a later start could fence after the controller assumed it had.
 * Persisted late by up to that period, so the agent errs on fencing earlier.
 */
export const LAST_CONTACT_FILE = 'last-contact';
export const CONTACT_PERSIST_MS = 10_000;
/** Default deadline: 60 s without the controller and without etcd quorum. */
export const DEFAULT_SELF_FENCE_DEADLINE_MS = 60_000;
/**
 * The most the fence actions may take once the deadline passed (systemctl stop of kubelet and etcd,
 * `crictl rmp` bounded at 60 s): the controller adds it to its wait (reported in the facts).
 */
export const SELF_FENCE_ACTION_BOUND_MS = 120_000;

/** What {@link createSelfFence} acts through. */
export interface SelfFencePorts {
  dataDir: string;
  deadlineMs: number;
  /** Pause between checks (default 2 s); the controller's margin includes one. */
  intervalMs?: number;
  /** Monotonic ms (performance.now in production). */
  now(): number;
  wallNow?(): number;
  /** Monotonic time of the last message received from the controller; null: none since start. */
  lastContactAt(): number | null;
  /** True while a session is accepted (welcomed) by the controller. */
  connected(): boolean;
  /**
   * True when etcd quorum was proven now (a linearizable read); false or a rejection: not proven;
   * null: this host has no etcd member, so self-fencing does not apply (see the README: such a host
   * needs a fence agent or the operator's confirmation, and does not advertise a deadline).
   */
  quorum(): Promise<boolean | null>;
  /** The fence actions (stand-down without disabling); resolves with what failed. */
  fence(reason: string): Promise<string[]>;
  /** Undoes them; resolves with what failed. */
  unfence(): Promise<string[]>;
  log: Logger;
}

/** The component; `tick` is exposed for tests with injected clocks. */
export interface SelfFence {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One check. */
  tick(): Promise<void>;
  fenced(): boolean;
}

/** True when the marker exists. */
export async function isSelfFenced(dataDir: string): Promise<boolean> {
  return (await lstatOrNull(join(dataDir, SELF_FENCED_MARKER))) !== null;
}

/** See the file comment. */
export function createSelfFence(p: SelfFencePorts): SelfFence {
  let fenced = false;
  let retryFence = false;
  let startedAt = 0;
  let lastQuorumAt: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  let stopped = true;
  const marker = join(p.dataDir, SELF_FENCED_MARKER);
  const contactFile = join(p.dataDir, LAST_CONTACT_FILE);
  const wallNow = p.wallNow ?? Date.now;
  let persistedAt: number | null = null;

  /** Start of the count for an agent that has had no contact yet: the persisted contact, mapped to the monotonic clock. */
  async function initialSince(now: number): Promise<number> {
    try {
      const text = await readFile(contactFile, 'utf8');
      const wall = Number(text.trim());
      if (!Number.isFinite(wall)) return now;
      return now - Math.max(0, wallNow() - wall);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') p.log.warn({ err: messageOf(err) }, 'cannot read the last controller contact; counting from now');
      return now;
    }
  }

  async function persistContact(now: number): Promise<void> {
    if (persistedAt !== null && now - persistedAt < CONTACT_PERSIST_MS) return;
    persistedAt = now;
    try {
      await writeFileAtomic(contactFile, `${wallNow()}\n`, 0o600);
    } catch (err) {
      p.log.warn({ err: messageOf(err) }, 'cannot persist the last controller contact');
    }
  }

  async function doFence(reason: string): Promise<void> {
    fenced = true;
    p.log.warn({ reason, deadlineMs: p.deadlineMs }, 'self-fencing: kubelet, etcd and the VIP go down until the controller accepts this host again');
    const failed: string[] = [];
    try {
      await writeFileAtomic(marker, `${JSON.stringify({ at: new Date(wallNow()).toISOString(), reason })}\n`, 0o600);
    } catch (err) {
      failed.push(`marker: ${messageOf(err)}`);
    }
    failed.push(...(await p.fence(reason)));
    retryFence = failed.length > 0;
    if (retryFence) p.log.error({ failed }, 'self-fence: some steps failed (retried at the next check)');
  }

  async function tick(): Promise<void> {
    const now = p.now();
    if (fenced) {
      if (!p.connected()) {
        // A step that failed (a unit that would not stop, crictl timing out) is tried again; the
        // stand-down steps are idempotent.
        if (retryFence) await doFence('self-fence: retrying the steps that failed');
        return;
      }
      p.log.info('the controller accepted this host again: un-fencing');
      const failed = await p.unfence();
      if (failed.length > 0) {
        p.log.error({ failed }, 'un-fence: some steps failed; staying fenced and retrying');
        return;
      }
      await rm(marker, { force: true });
      fenced = false;
      lastQuorumAt = now;
      return;
    }
    if (p.connected()) {
      await persistContact(now);
      return;
    }
    let ok: boolean | null = false;
    try {
      ok = await p.quorum();
    } catch (err) {
      p.log.debug({ err: messageOf(err) }, 'etcd quorum not proven');
    }
    if (ok !== false) lastQuorumAt = p.now();
    const contact = p.lastContactAt();
    const since = Math.max(startedAt, contact ?? startedAt, lastQuorumAt ?? startedAt);
    const lost = p.now() - since;
    if (lost >= p.deadlineMs) {
      await doFence(`no controller and no etcd quorum for ${Math.round(lost / 1000)} s (deadline ${Math.round(p.deadlineMs / 1000)} s)`);
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      inFlight = tick()
        .catch((err: unknown) => p.log.error({ err: messageOf(err) }, 'self-fence check failed'))
        .finally(() => {
          inFlight = null;
          schedule();
        });
    }, p.intervalMs ?? 2000);
  }

  return {
    async start() {
      startedAt = await initialSince(p.now());
      stopped = false;
      // Fenced before this start: fence again at once, with or without a controller.
      if (await isSelfFenced(p.dataDir)) await doFence('self-fenced earlier (marker in the data dir)');
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await inFlight;
    },
    tick,
    fenced: () => fenced,
  };
}
