/**
 * `ballastctl cluster …`. For now `cluster validate`: checks a cluster.yaml, or a kubespray
 * inventory plus the flags for what an inventory lacks, locally and offline (no controller, no
 * config needed). It prints every problem with its path and exits 2 when there is any; the checks
 * that need the controller (enrolment, health, facts, mirror) run in `cluster create`.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { messageOf } from '../../../shared/src/errors.js';
import type { InventoryHostAddresses } from '../../../controller/src/cluster/inventory-match.js';
import { detectInventoryFormat, flagPaths, type InventoryOptions, inventoryToCluster } from '../../../controller/src/cluster/inventory.js';
import { type ClusterProblem, type ClusterSpec, inlineCniManifest, MAX_CLUSTER_DOCUMENT_BYTES, parseClusterYaml } from '../../../controller/src/cluster/spec.js';
import { validateCluster } from '../../../controller/src/cluster/validate.js';
import type { CliContext } from '../context.js';
import { CtlError, EXIT_USAGE, usageError } from '../errors.js';
import { type OutputFormat, outputOption, toJson } from '../output.js';
import { intInRange } from '../parse.js';
import { registerClusterOps } from './cluster-ops.js';
import { registerClusterRecover } from './cluster-recover.js';
import { registerClusterKubeconfig } from './kubeconfig.js';
import { withExamples } from './common.js';

export interface ValidateOptions {
  file?: string;
  inventory?: string;
  name?: string;
  vip?: string;
  vipInterface?: string;
  vipPort?: number;
  kubernetesVersion?: string;
  etcdVersion?: string;
  containerdVersion?: string;
  podCidr?: string;
  serviceCidr?: string;
  cniManifest?: string;
  output: Extract<OutputFormat, 'text' | 'json'>;
}

/** The flags that fill in what an inventory has no place for (InventoryOptions); refused with -f. */
const INVENTORY_FLAGS = ['name', 'vip', 'vipInterface', 'vipPort', 'kubernetesVersion', 'etcdVersion', 'containerdVersion', 'podCidr', 'serviceCidr', 'cniManifest'] as const;

/** What `cluster validate -o json` prints. */
export interface ClusterValidateReport {
  source: string;
  valid: boolean;
  problems: ClusterProblem[];
  notes: ClusterProblem[];
  /** The document with defaults applied (CNI manifest left as a path), when it parsed. */
  cluster?: ClusterSpec;
}

/** The options naming where a cluster comes from: `-f cluster.yaml`, or `--inventory` plus what an inventory lacks. */
export function sourceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-f, --file <path>', 'cluster.yaml').conflicts('inventory'))
    .addOption(new Option('--inventory <path>', 'kubespray inventory (hosts.yaml or inventory.ini), unchanged'))
    .option('--name <name>', 'with --inventory: cluster name')
    .option('--vip <address>', 'with --inventory: API server virtual IP')
    .option('--vip-interface <name>', 'with --inventory: interface the VIP is added to')
    .option('--vip-port <port>', 'with --inventory: API server port (default 6443)', intInRange(1, 65535))
    .option('--kubernetes-version <version>', 'with --inventory: Kubernetes version')
    .option('--etcd-version <version>', 'with --inventory: etcd version')
    .option('--containerd-version <version>', 'with --inventory: containerd version')
    .option('--pod-cidr <cidr>', 'with --inventory: pod CIDR')
    .option('--service-cidr <cidr>', 'with --inventory: service CIDR')
    .option('--cni-manifest <path>', 'with --inventory: CNI manifest file');
}

/** Registers `cluster` and its subcommands. */
export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('describe and check a whole Kubernetes cluster (cluster.yaml or a kubespray inventory)');
  const validate = cluster
    .command('validate')
    .description('check a cluster.yaml or kubespray inventory offline; print every problem with its path (exit 2 on any)');
  sourceOptions(validate)
    .addOption(outputOption(['text', 'json']))
    .action((opts: ValidateOptions) => runValidate(ctx, opts));
  withExamples(validate, [
    'ballastctl cluster validate -f cluster.yaml',
    'ballastctl cluster validate --inventory inventory/mycluster/hosts.yaml --name prod --vip 10.0.0.10 --vip-interface eth0',
    'ballastctl cluster validate -f cluster.yaml -o json | jq .problems',
  ]);
  registerClusterOps(cluster, ctx);
  registerClusterRecover(cluster, ctx);
  registerClusterKubeconfig(cluster, ctx);
}

function runValidate(ctx: CliContext, opts: ValidateOptions): void {
  const cwd = ctx.io.cwd ?? process.cwd();
  const report: ClusterValidateReport = opts.file !== undefined ? fromClusterFile(resolve(cwd, opts.file), opts) : withoutHosts(fromInventory(cwd, opts));
  if (opts.output === 'json') ctx.out(toJson(report));
  else ctx.out(reportText(report));
  if (!report.valid) {
    const n = report.problems.length;
    throw new CtlError(`${report.source}: ${n} problem${n === 1 ? '' : 's'}; nothing was started`, EXIT_USAGE, { code: 'BALLAST_ERR_VALIDATION' });
  }
}

export function fromClusterFile(path: string, opts: ValidateOptions): ClusterValidateReport {
  const stray = INVENTORY_FLAGS.filter((f) => opts[f] !== undefined);
  if (stray.length > 0) throw usageError(`--${kebab(stray[0] ?? '')} applies to --inventory only; with -f the cluster file says it`);
  return check(basename(path), path, parseClusterYaml(readBounded(path)));
}

function withoutHosts({ inventoryHosts: _, ...report }: InventoryReport): ClusterValidateReport {
  return report;
}

/** A report from an inventory, with the inventory's hosts and their addresses (not printed). */
export type InventoryReport = ClusterValidateReport & { inventoryHosts: InventoryHostAddresses[] };

export function fromInventory(cwd: string, opts: ValidateOptions): InventoryReport {
  if (opts.inventory === undefined) throw usageError('one of -f <cluster.yaml> or --inventory <file> is required');
  const path = resolve(cwd, opts.inventory);
  const text = readBounded(path);
  const options: InventoryOptions = {
    name: opts.name,
    vip: { address: opts.vip, interface: opts.vipInterface, port: opts.vipPort },
    versions: { kubernetes: opts.kubernetesVersion, etcd: opts.etcdVersion, containerd: opts.containerdVersion },
    // Absolute, so that resolving it against the inventory's directory leaves it as the user meant (cwd).
    network: { podCidr: opts.podCidr, serviceCidr: opts.serviceCidr, cniManifest: opts.cniManifest === undefined ? undefined : resolve(cwd, opts.cniManifest) },
  };
  const result = inventoryToCluster(text, detectInventoryFormat(path, text), options);
  const report = check(basename(path), path, result);
  // The cross-field checks name document paths; a value the operator gave as a flag is named by it.
  const flags = flagPaths(options);
  const problems = report.problems.map((p) => ({ ...p, path: flags.get(p.path) ?? p.path }));
  return { ...report, problems, notes: [...result.notes, ...report.notes], inventoryHosts: result.addresses };
}

/** Schema result → inline the CNI manifest → offline cross-field validation. */
function check(source: string, path: string, parsed: ReturnType<typeof parseClusterYaml>): ClusterValidateReport {
  if (!parsed.ok) return { source, valid: false, problems: parsed.problems, notes: [] };
  const manifest = inlineCniManifest(parsed.spec, { clusterFile: path });
  const result = validateCluster(parsed.spec);
  const problems = [...manifest.problems, ...result.problems];
  return { source, valid: problems.length === 0, problems, notes: result.notes, cluster: parsed.spec };
}

/** Reads a file of at most the document bound; a usage error (exit 2) when it cannot. */
function readBounded(path: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_CLUSTER_DOCUMENT_BYTES) throw usageError(`${path} is ${size} bytes, over the ${MAX_CLUSTER_DOCUMENT_BYTES}-byte limit`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof CtlError) throw err;
    throw usageError(`cannot read ${path}: ${messageOf(err)}`);
  }
}

/** The text report: problems, then notes, then a one-line verdict. */
export function reportText(report: ClusterValidateReport): string {
  const lines = [
    ...report.problems.map((p) => `${p.path}: ${p.message}`),
    ...report.notes.map((p) => `note: ${p.path}: ${p.message}`),
  ];
  if (report.valid && report.cluster !== undefined) {
    const count = (role: string) => report.cluster?.hosts.filter((h) => (h.roles as readonly string[]).includes(role)).length ?? 0;
    lines.push(
      `${report.source}: valid: cluster "${report.cluster.name}", ${count('etcd')} etcd, ${count('control-plane')} control-plane, ${count('worker')} worker host(s); Kubernetes ${report.cluster.versions.kubernetes}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function kebab(flag: string): string {
  return flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
