/**
 * A restore onto new hosts from the snapshot bundle alone (issue 13; README "Onto new hosts"): every
 * old host is lost, and possibly the controller's store with them. What is left is a sealed
 * snapshot file (`<id>.bsnap`, from the controller's store or its S3 copy) and the snapshot key
 * (kept elsewhere by design). From those two:
 *
 * 1. {@link openBundleFile}: the file is opened with the key (AEAD: a changed byte or a wrong key
 *    is refused), the etcd database written out and checked against the sha256 the bundle
 *    recorded when the snapshot was taken, and the bundle (PKI with keys, cluster spec) parsed.
 * 2. {@link importBundlePki}: the bundle's PKI goes into the (new) controller's store for the
 *    cluster — the etcd, Kubernetes and front-proxy CAs, the service-account key pair and every
 *    certificate — so `ClusterPki.ensure` for the new hosts **keeps the CAs** and issues only the
 *    new hosts' leaves. Old clients (kubelets, kube-apiserver's etcd client, service-account
 *    tokens) stay valid: no Unauthorized. A CA or key pair already stored with other material is
 *    refused (BALLAST_ERR_PKI_CONFLICT): mixing two trust roots would strand half the cluster.
 * 3. The etcd restore itself is the agents' `etcd_restore` (every member from the same database,
 *    new token, `--bump-revision --mark-compacted`), as `cluster recover --from-snapshot` runs it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BallastError } from '../../../shared/src/errors.js';
import { parseBundle, type RestoreBundle } from '../snapshots/bundle.js';
import { openSealedSnapshot } from '../snapshots/sealed-file.js';
import type { ClusterPkiRepo, NewClusterPkiItem } from '../store/cluster-pki.js';

/** A sealed file opened with its key. */
export interface OpenedBundleFile {
  /** The etcd database (0600) inside the caller's directory. */
  dbPath: string;
  dbSha256: string;
  dbSize: number;
  bundle: RestoreBundle;
}

/**
 * Opens `sealedPath` with `key` into `intoDir` (the caller's private directory, created 0700). Throws
 * BALLAST_ERR_SNAPSHOT_INVALID for a changed file, a wrong key or a malformed bundle, and
 * BALLAST_ERR_CHECKSUM_MISMATCH when the database is not the one the bundle recorded; nothing
 * is left in `intoDir` then.
 */
export async function openBundleFile(opts: { sealedPath: string; key: Buffer; intoDir: string }): Promise<OpenedBundleFile> {
  await mkdir(opts.intoDir, { recursive: true, mode: 0o700 });
  const dbPath = join(opts.intoDir, 'etcd-snapshot.db');
  const opened = await openSealedSnapshot({ key: opts.key, sealedPath: opts.sealedPath, dbOutPath: dbPath });
  try {
    const bundle = parseBundle(opened.bundleJson, opts.sealedPath);
    if (bundle.etcd.sha256 !== opened.dbSha256) {
      throw new BallastError(
        'BALLAST_ERR_CHECKSUM_MISMATCH',
        `failed to open ${opts.sealedPath}: its database hashes to ${opened.dbSha256}, the bundle recorded ${bundle.etcd.sha256}; it is never restored`,
      );
    }
    return { dbPath, dbSha256: opened.dbSha256, dbSize: opened.dbSize, bundle };
  } catch (err) {
    await rm(dbPath, { force: true });
    throw err;
  }
}

/** What {@link importBundlePki} did. */
export interface PkiImport {
  /** Items written (absent before). */
  imported: string[];
  /** Items already stored with the same material. */
  same: string[];
  /** Leaves and tokens already stored with other material (kept: the CA check passed, so they chain to the same root). */
  kept: string[];
}

const ROOTS: ReadonlySet<string> = new Set(['ca', 'keypair']);

/**
 * Puts the bundle's PKI into `repo` for `cluster` (the bundle's own cluster unless renamed), all
 * or nothing. Refuses when a CA or key pair is stored with other material; see the file comment.
 */
export function importBundlePki(repo: Pick<ClusterPkiRepo, 'list' | 'putAll'>, bundle: RestoreBundle, cluster = bundle.cluster): PkiImport {
  const stored = new Map(repo.list(cluster).map((r) => [r.name, r]));
  const out: PkiImport = { imported: [], same: [], kept: [] };
  const put: NewClusterPkiItem[] = [];
  const conflicts: string[] = [];
  for (const item of bundle.pki) {
    const have = stored.get(item.name);
    if (have === undefined) {
      put.push(item);
      out.imported.push(item.name);
    } else if (have.certPem === item.certPem && have.keyPem === item.keyPem) {
      out.same.push(item.name);
    } else if (ROOTS.has(item.kind) || ROOTS.has(have.kind)) {
      conflicts.push(item.name);
    } else {
      out.kept.push(item.name);
    }
  }
  if (conflicts.length > 0) {
    throw new BallastError(
      'BALLAST_ERR_PKI_CONFLICT',
      `failed to import the PKI of snapshot ${bundle.snapshotId} into cluster ${cluster}: ${conflicts.join(', ')} already stored with other keys; nothing was imported (restore into a controller without this cluster's PKI, or under another cluster name)`,
    );
  }
  repo.putAll(cluster, put);
  return out;
}
