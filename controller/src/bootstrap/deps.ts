/**
 * What the bootstrap's step executors need from the rest of the controller, as narrow ports
 * (STYLE.md §9): production passes adapters over the run orchestrator, the PKI store, the
 * validator and real etcd/Kubernetes clients; tests pass fakes.
 */
import type { Logger } from 'pino';
import type { EtcdClient, EtcdClientOptions } from '../../../shared/src/etcd/client.js';
import type { ClusterValidation } from '../cluster/validate.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { KubeApi, KubeApiOptions } from '../kube/client.js';
import type { ClusterPkiBundle } from '../pki/cluster-pki.js';
import type { ClusterLifecycleRepo } from '../store/clusters.js';
import type { VipReleasePort } from './vip-release.js';
import type { RunStarter } from './role-runner.js';

/** The bootstrap's dependencies. */
export interface BootstrapDeps {
  runs: RunStarter;
  /**
   * ClusterPki.ensure (idempotent: reuses what is stored). With `preview`, nothing is stored: the
   * bundle is what ensure would return (stored items reused, missing ones issued in memory), so a
   * check-mode run can render roles and diff real files.
   */
  pki(cluster: string, inputs: unknown, preview: boolean): Promise<ClusterPkiBundle>;
  /**
   * The stored PKI, for talking to a live cluster (status): never a preview, never stored to.
   * Fails when nothing is stored for the cluster yet.
   */
  readPki(cluster: string, inputs: unknown): Promise<ClusterPkiBundle>;
  /** Where clusters stand: cluster create's last step and the reset step record it. */
  clusters: Pick<ClusterLifecycleRepo, 'get' | 'set'>;
  /**
   * The VIP service, to release the VIP before a reset (vip-release.ts). A getter: the controller
   * builds the VIP service after these deps. Absent (tests, or no VIP service): nothing released.
   */
  vip?: () => VipReleasePort | undefined;
  /** validateCluster bound to the live fleet and mirror. */
  validate(spec: ClusterSpec): ClusterValidation;
  etcd(opts: EtcdClientOptions): EtcdClient;
  kube(opts: KubeApiOptions): KubeApi;
  log: Logger;
  /** Poll interval of health gates (default GATE_INTERVAL_MS, 250 ms; tests shorten it). */
  gateIntervalMs?: number;
}
