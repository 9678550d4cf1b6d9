/** The outcome of one health probe. */
export interface ProbeResult {
  ok: boolean;
  /** One human line: what answered, or why not. */
  message: string;
}

/**
 * What the supervisor watches for one host component (containerd, etcd, kubelet): a systemd unit
 * plus a health probe. It is a probe descriptor, not a lifecycle: install and first start are a
 * role's tasks, systemd runs the unit, and the supervisor only restarts it when its probe says so.
 * The agent's own long-running parts are lifecycle Services (shared/src/lifecycle).
 */
export interface SupervisedUnit {
  /** Stable name: `containerd`, `etcd`, `kubelet`; health checks are `component:<name>`. */
  readonly name: string;
  /** The unit restarted on failure. */
  readonly unit: string;
  /** May throw or hang; the supervisor bounds it and counts both as a failure. */
  probe(): Promise<ProbeResult>;
  /** How often to probe, ms; the supervisor's default when absent. */
  readonly intervalMs?: number;
}

/** Where the supervisor learns which units to watch; called on every tick, so new ones appear without a restart. */
export type SupervisedUnitSource = () => Promise<SupervisedUnit[]>;
