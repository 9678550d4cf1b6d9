import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ProcRef } from './proc.js';

/** One lab host: a network namespace, an overlay root and (while powered on) a systemd-nspawn. */
export interface HostState {
  name: string;
  netns: string;
  /** The veth end in the switch namespace: link down = partition. */
  switchPort: string;
  address: string;
  upper: string;
  work: string;
  root: string;
  mounted: boolean;
  nspawn: ProcRef | null;
  /** The container's systemd (PID 1 inside), the target of nsenter. */
  init: ProcRef | null;
  partitioned: boolean;
  /** The host's cgroup subtree (cgroups.ts), recorded before it is made; absent in older states. */
  cgroups?: string[];
}

/**
 * Everything the lab created, written before each resource is made, so `down` (from any process,
 * also after a crash) finds and removes exactly what exists.
 */
export interface LabState {
  version: 1;
  dir: string;
  createdAt: string;
  switchNetns: string;
  controllerNetns: string;
  clientNetns: string;
  controllerAddress: string;
  controllerPort: number;
  clientAddress: string;
  baseRootfs: string;
  distDir: string;
  controller: ProcRef | null;
  controllerDataDir: string;
  hosts: HostState[];
  /** Namespaces that were created and must be deleted. */
  namespaces: string[];
  /**
   * Other processes a test started in the lab's namespaces (e.g. Prometheus in the controller's),
   * SIGKILLed first at teardown when a crashed test left them running; absent in older states.
   */
  extras?: Array<{ what: string; proc: ProcRef }>;
}

export const DEFAULT_LAB_DIR = '/var/lib/ballast-lab';

export function labDir(): string {
  return process.env.BALLAST_LAB_DIR ?? DEFAULT_LAB_DIR;
}

/**
 * The lab controller's `--snapshot-key` file: in the lab dir, outside the controller's data dir (as
 * /etc/ballast/snapshot.key is on a real controller; the default would be this machine's).
 */
export function snapshotKeyFile(state: Pick<LabState, 'dir'>): string {
  return join(state.dir, 'snapshot.key');
}

export function stateFile(dir = labDir()): string {
  return join(dir, 'state.json');
}

export function readState(dir = labDir()): LabState | null {
  const file = stateFile(dir);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

/** Atomic (temp + rename): a crash mid-write leaves the previous state, never a torn file. */
export function writeState(state: LabState): void {
  const file = stateFile(state.dir);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
