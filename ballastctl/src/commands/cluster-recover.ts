/**
 * `ballastctl cluster recover NAME --from-snapshot ID | --from-member HOST`: etcd disaster
 * recovery as a resumable operation (controller/src/recovery). It is refused while the old etcd
 * cluster still has quorum; it stops the API servers, restores, starts etcd and the API servers
 * again and waits for /readyz through the VIP. `--replace-current-data` is the named override of
 * the quorum refusal (new hosts after `etcd snapshot import`, or a rollback). Like `cluster create`, it needs `--yes` unless
 * `--check`; `--from-member` additionally needs `--confirm-force-new-cluster` after etcd's warning.
 */
import type { Command } from 'commander';
import { OperationDocumentSchema } from '../../../shared/src/ops-api.js';
import { FORCE_NEW_CLUSTER_WARNING } from '../../../shared/src/recover-api.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { outputOption } from '../output.js';
import { withExamples } from './common.js';
import { viewOperation } from './ops.js';

/**
 * How long the start of a recovery may take. The controller verifies the snapshot before it starts
 * anything (decrypts it and hashes every byte, ~20 s for 1 GB on a busy host), and the request's
 * answer waits for that; the default 15 s request timeout gave up on a 1 GB snapshot while the
 * controller went on and started the recovery. Same bound as `etcd snapshot verify` (etcd.ts).
 */
export const RECOVER_START_TIMEOUT_MS = 40 * 60_000;

interface RecoverOptions {
  fromSnapshot?: string;
  fromMember?: string;
  confirmForceNewCluster?: boolean;
  replaceCurrentData?: boolean;
  bumpRevision?: number;
  check?: boolean;
  diff?: boolean;
  yes?: boolean;
  follow: boolean;
  output: 'text' | 'json' | 'yaml';
}

function positiveInteger(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw usageError(`--bump-revision: "${v}" is not a positive integer`);
  return n;
}

/** Adds `recover` to the `cluster` group. */
export function registerClusterRecover(cluster: Command, ctx: CliContext): void {
  const recover = cluster
    .command('recover')
    .description('etcd disaster recovery (quorum lost or data destroyed): restore every member from one snapshot, or rebuild from one surviving member; resumable')
    .argument('<name>', 'cluster name')
    .option('--from-snapshot <id>', 'restore EVERY member from this snapshot (ballastctl etcd snapshot list) with --bump-revision and --mark-compacted')
    .option('--from-member <host>', "keep this member's data: force-new-cluster on it, the other members rejoin as learners")
    .option('--confirm-force-new-cluster', 'with --from-member: you read etcd\'s warning (see --help) and accept it')
    .option('--replace-current-data', 'with --from-snapshot: proceed although the etcd still serves with quorum and discard its data (new hosts after etcd snapshot import + cluster create, or a rollback); shown first by --check')
    .option('--bump-revision <n>', 'added to the snapshot revision so watchers never see it go back (default 1000000000)', positiveInteger)
    .option('--check', 'print the full per-host plan and change nothing')
    .option('--diff', 'record file diffs in every run')
    .option('-y, --yes', 'recover without asking (required unless --check)')
    .option('--no-follow', 'print the operation id and return instead of following it')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .addHelpText(
      'after',
      `
Refused while any member of the old etcd cluster still answers with a leader: a cluster with quorum
is repaired with 'ballastctl node replace', one member at a time. Kubernetes API servers are stopped
during the recovery (their static pod manifests are parked) and started again at the end; the
certificates are not touched, so kubelets keep working. The old data directories are kept,
renamed to /var/lib/etcd.pre-restore-<operation id>; delete them yourself once you are satisfied.
Everything written after the snapshot was taken is lost.

--replace-current-data (with --from-snapshot) is the named override of that refusal, for a cluster
whose current data is to be thrown away on purpose: onto new hosts after 'etcd snapshot import' and
'cluster create' (the new, empty etcd serves), or rolling a working cluster back to a snapshot. The
refusal and --check show what it discards (revision, key count, DB size, members); it still needs
--yes, is recorded in the operation's input and the audit log, and the old data is kept renamed.

--from-member warning (${FORCE_NEW_CLUSTER_WARNING})
`,
    )
    .action(async (name: string, opts: RecoverOptions, command: Command) => {
      if ((opts.fromSnapshot === undefined) === (opts.fromMember === undefined)) throw usageError('cluster recover: give exactly one of --from-snapshot ID and --from-member HOST');
      if (opts.fromSnapshot !== undefined && opts.confirmForceNewCluster === true) throw usageError('--confirm-force-new-cluster goes with --from-member only');
      if (opts.fromMember !== undefined && opts.replaceCurrentData === true) throw usageError('--replace-current-data goes with --from-snapshot only');
      if (opts.fromMember !== undefined && opts.confirmForceNewCluster !== true && opts.check !== true) {
        throw usageError(`--from-member ${opts.fromMember} runs etcd with --force-new-cluster: ${FORCE_NEW_CLUSTER_WARNING} Rerun with --confirm-force-new-cluster, or with --check`);
      }
      if (opts.check !== true && opts.yes !== true && opts.replaceCurrentData === true) {
        throw usageError(`cluster recover --replace-current-data discards the current etcd data of ${name}: run it with --check to see what would be discarded, then rerun with --yes`);
      }
      if (opts.check !== true && opts.yes !== true) {
        throw usageError(`cluster recover stops the API servers of ${name} and replaces its etcd data: rerun with --yes, or with --check to see the plan first`);
      }
      const client = ctx.client(command);
      const body = {
        ...(opts.fromSnapshot === undefined ? {} : { fromSnapshot: opts.fromSnapshot }),
        ...(opts.fromMember === undefined ? {} : { fromMember: opts.fromMember }),
        confirmForceNewCluster: opts.confirmForceNewCluster === true,
        replaceCurrentData: opts.replaceCurrentData === true,
        ...(opts.bumpRevision === undefined ? {} : { bumpRevision: opts.bumpRevision }),
        check: opts.check === true,
        diff: opts.diff === true,
      };
      if (opts.fromSnapshot !== undefined && opts.output === 'text') ctx.note(`verifying snapshot ${opts.fromSnapshot} on the controller (decrypted and hashed before anything starts)…`);
      const doc = await client.post(`/v1/clusters/${encodeURIComponent(name)}/recover`, body, OperationDocumentSchema, { timeoutMs: RECOVER_START_TIMEOUT_MS });
      await viewOperation(ctx, client, doc, { follow: opts.follow, output: opts.output });
    });
  withExamples(recover, [
    'ballastctl cluster recover prod --from-snapshot snap-20261207-0500 --check',
    'ballastctl cluster recover prod --from-snapshot snap-20261207-0500 --yes',
    'ballastctl cluster recover prod --from-snapshot snap-20261207-0500 --replace-current-data --check',
    'ballastctl cluster recover prod --from-member cp-1 --confirm-force-new-cluster --yes',
  ]);
}
