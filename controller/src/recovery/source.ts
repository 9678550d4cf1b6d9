/**
 * The port through which a recovery reads a snapshot: the snapshot store (another part of issue
 * 13, `openSnapshotForRestore(id)` in controller/src/snapshots/source.ts) implements it; the
 * merger wires it in controller.ts. The recovery never trusts what it is told: it hashes `dbPath`
 * itself and refuses the snapshot unless the hash matches the recorded `sha256`
 * (executors.ts, verifiedSnapshot), and the agents verify their download against the same hash.
 */
import { BallastError } from '../../../shared/src/errors.js';

/** One file the snapshot bundle carries for a restore onto new hosts (CAs, keys, kubeadm config …). */
export interface BundleFile {
  /** Absolute host path, e.g. /etc/kubernetes/pki/ca.key. */
  path: string;
  mode: number;
  content: Buffer;
}

/** A snapshot opened for restore. */
export interface OpenedSnapshot {
  /** The decrypted etcd snapshot on the controller's disk. */
  dbPath: string;
  /** Recorded when it was taken (lower-case hex). */
  sha256: string;
  /** The etcd revision it holds. */
  revision: number;
  bundle: { files: BundleFile[]; spec: unknown };
  /** The cluster it was taken from, when the store records it (a snapshot of another cluster is refused). */
  cluster?: string;
}

/** See the module comment. */
export interface SnapshotSource {
  /** Throws BALLAST_ERR_NOT_FOUND for an unknown id. */
  open(id: string): Promise<OpenedSnapshot>;
}

/** The source of a controller without a snapshot store: every snapshot is refused, by code. */
export const noSnapshotStore: SnapshotSource = {
  async open(id) {
    throw new BallastError('BALLAST_ERR_NOT_FOUND', `snapshot ${id}: this controller has no snapshot store (ballastctl etcd snapshot list)`);
  },
};
