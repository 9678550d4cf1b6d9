/**
 * What the new-hosts recovery proof (recover-new-hosts.test.ts, issue 13) does besides ballastctl:
 * the controller's machine lost (its store and snapshot key moved away), a fresh controller started
 * with the key the user kept installed first, and the new hosts' cluster.yaml.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Lab } from './tool/lab.js';
import { snapshotKeyFile } from './tool/state.js';

/**
 * The controller's machine is lost: the controller stopped, its data dir (store, agent CA, sealed
 * snapshots, admin credentials) and its snapshot key moved to `<lab dir>/lost-controller` (kept
 * for a post-mortem; the lab's teardown removes the lab dir). Returns that directory.
 */
export async function loseController(lab: Lab): Promise<string> {
  await lab.stopController();
  const lost = join(lab.state.dir, 'lost-controller');
  mkdirSync(lost, { recursive: true });
  renameSync(lab.state.controllerDataDir, join(lost, 'data'));
  const key = snapshotKeyFile(lab.state);
  if (existsSync(key)) renameSync(key, join(lost, 'snapshot.key'));
  return lost;
}

/**
 * A fresh controller install (new store, new agent CA, new admin credentials) with `keptKey`
 * installed 0600 at its `--snapshot-key` path BEFORE its first start — the README's step 1: a
 * controller without the file would generate a new key on first use, which opens no old bundle.
 */
export async function freshControllerWithKey(lab: Lab, keptKey: string): Promise<void> {
  if (existsSync(lab.state.controllerDataDir)) throw new Error(`failed to start a fresh controller: ${lab.state.controllerDataDir} still exists`);
  const key = snapshotKeyFile(lab.state);
  if (existsSync(key)) throw new Error(`failed to install the kept snapshot key: ${key} already exists`);
  copyFileSync(keptKey, key);
  chmodSync(key, 0o600);
  await lab.startController();
}

/**
 * Writes `to`: the cluster.yaml `from` (name, VIP, versions, node settings kept) with exactly
 * `hosts`, each etcd + control plane, at its lab address.
 */
export function clusterFileFor(lab: Lab, from: string, to: string, hosts: readonly string[]): void {
  const doc = parse(readFileSync(from, 'utf8')) as Record<string, unknown>;
  doc.hosts = hosts.map((name) => ({ name, address: lab.host(name).address, roles: ['etcd', 'control-plane'] }));
  writeFileSync(to, stringify(doc));
}
