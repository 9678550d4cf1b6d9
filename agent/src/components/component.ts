/** The outcome of one health probe. */
export interface ProbeResult {
  ok: boolean;
  /** One human line: what answered, or why not. */
  message: string;
}

/**
 * A host capability the agent keeps running: a systemd unit plus a health probe (k0s's small
 * component interface, without the lifecycle a role's tasks already own: install and first start
 * are tasks; the supervisor only keeps what is installed healthy).
 */
export interface Component {
  /** Stable name: `containerd`, `etcd`, `kubelet`; health checks are `component:<name>`. */
  readonly name: string;
  /** The unit restarted on failure. */
  readonly unit: string;
  /** May throw or hang; the supervisor bounds it and counts both as a failure. */
  probe(): Promise<ProbeResult>;
  /** How often to probe, ms; the supervisor's default when absent. */
  readonly intervalMs?: number;
}

/** Where the supervisor learns which components exist; called on every tick, so new ones appear without a restart. */
export type ComponentSource = () => Promise<Component[]>;
