/**
 * The snapshot scheduler: per cluster, node-cron tasks for snapshots, restore drills and (when on)
 * the automatic defragmentation,
 * from the policy in force (policy.ts). A long-running part of the controller: it implements the
 * one lifecycle contract (shared/src/lifecycle/service.ts) and is started and stopped by the
 * controller's ServiceManager. `ensureSchedules()` converges the running tasks to the wanted ones
 * (a cluster created, a policy changed): safe to call at any time, it replaces only what differs.
 * A run that is still going when its next tick comes is skipped (node-cron `noOverlap`), and a
 * failed run is logged and evented by the service; the scheduler carries on.
 */
import { type ScheduledTask, schedule } from 'node-cron';
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { Service } from '../../../shared/src/lifecycle/service.js';
import type { SnapshotPolicy } from '../cluster/snapshot-spec.js';

/** What the scheduler runs (the snapshot service). */
export interface ScheduledWork {
  take(cluster: string): Promise<unknown>;
  drill(cluster: string): Promise<unknown>;
  /** The automatic defragmentation (etcd-care.ts autoDefrag), when the policy has it on. */
  defrag(cluster: string): Promise<unknown>;
}

/** Options of {@link SnapshotScheduler}. */
export interface SnapshotSchedulerOptions {
  /** Clusters that exist now. */
  clusters: () => string[];
  policy: (cluster: string) => SnapshotPolicy;
  work: ScheduledWork;
  log: Logger;
  /** How often the wanted schedules are re-read (new clusters, changed specs); default 60 s. */
  refreshMs?: number;
}

interface Running {
  key: string;
  task: ScheduledTask;
}

/** See the file comment. */
export class SnapshotScheduler implements Service {
  readonly name = 'snapshot-scheduler';
  readonly #o: SnapshotSchedulerOptions;
  readonly #log: Logger;
  readonly #tasks = new Map<string, Running>();
  #refresh: NodeJS.Timeout | null = null;

  constructor(options: SnapshotSchedulerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'snapshot-scheduler' });
  }

  async start(): Promise<void> {
    this.ensureSchedules();
    this.#refresh = setInterval(() => this.ensureSchedules(), this.#o.refreshMs ?? 60_000);
    this.#refresh.unref();
  }

  async stop(): Promise<void> {
    if (this.#refresh !== null) clearInterval(this.#refresh);
    this.#refresh = null;
    for (const [name, r] of this.#tasks) {
      await r.task.destroy();
      this.#tasks.delete(name);
    }
  }

  /** The schedules running now: `<cluster>/snapshot` → cron expression. */
  running(): Record<string, string> {
    return Object.fromEntries([...this.#tasks].map(([name, r]) => [name, r.key]));
  }

  /** Converges the running tasks to the wanted ones. */
  ensureSchedules(): void {
    const wanted = new Map<string, { expr: string; run: () => Promise<unknown> }>();
    for (const cluster of this.#o.clusters()) {
      let policy: SnapshotPolicy;
      try {
        policy = this.#o.policy(cluster);
      } catch (err) {
        this.#log.error({ cluster, err: messageOf(err) }, 'cannot read the snapshot policy: no schedule for this cluster');
        continue;
      }
      if (!policy.enabled) continue;
      wanted.set(`${cluster}/snapshot`, { expr: policy.schedule, run: () => this.#o.work.take(cluster) });
      wanted.set(`${cluster}/drill`, { expr: policy.drillSchedule, run: () => this.#o.work.drill(cluster) });
      if (policy.autoDefrag) wanted.set(`${cluster}/defrag`, { expr: policy.defragSchedule, run: () => this.#o.work.defrag(cluster) });
    }
    for (const [name, r] of this.#tasks) {
      if (wanted.get(name)?.expr !== r.key) {
        void r.task.destroy();
        this.#tasks.delete(name);
      }
    }
    for (const [name, w] of wanted) {
      if (this.#tasks.has(name)) continue;
      const task = schedule(
        w.expr,
        async () => {
          try {
            await w.run();
          } catch (err) {
            this.#log.error({ schedule: name, err: messageOf(err) }, 'scheduled etcd work failed');
          }
        },
        { name: `ballast-${name}`, noOverlap: true },
      );
      this.#tasks.set(name, { key: w.expr, task });
      this.#log.info({ schedule: name, cron: w.expr }, 'scheduled');
    }
  }
}
