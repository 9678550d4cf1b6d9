/**
 * A kubespray (Ansible) inventory, taken unchanged, as a Cluster document. Both of kubespray's forms
 * are read: `hosts.yaml` (`all.hosts` with per-host vars, `all.children.<group>.hosts`) and
 * `inventory.ini` (`[all]` lines `node1 ansible_host=… ip=…`, `[etcd]`, `[kube_control_plane]`,
 * `[kube_node]`, `[k8s_cluster:children]`, `[all:vars]`).
 *
 * Roles come from group membership, children included: `etcd` → etcd, `kube_control_plane` →
 * control-plane, `kube_node` → worker (with kubespray's pre-2.16 names `kube-master`,
 * `kube_master` and `kube-node` accepted and noted). A host's address is its `ip` var, else
 * `access_ip`, else `ansible_host`, else its inventory name when that is an IP address — kubespray
 * binds etcd and the API server to `ip`, and `ansible_host` is only where Ansible SSHes to.
 * Hosts in no role group (bastion, calico_rr, …) are left out with a note.
 */
import { isIP } from 'node:net';
import { didYouMean } from '../../../shared/src/suggest.js';
import type { InventoryHostAddresses } from './inventory-match.js';
import { type ClusterParseResult, type ClusterProblem, type ClusterRole, checkClusterDocument, parseBoundedYaml } from './spec.js';

/**
 * The cluster-level fields an inventory has no place for. Precedence: these options, then the
 * kubespray variables found in the inventory's own `all` vars (`kube_version`, `kube_pods_subnet`,
 * `kube_service_addresses`, `dns_domain`, `kube_vip_address`, `kube_vip_interface`), then the
 * schema defaults (spec.ts). `name` and the VIP address and interface have no default: without
 * them the result has problems at `/name`, `/vip/address` and `/vip/interface` (ballastctl's
 * `--name`, `--vip`, `--vip-interface`).
 */
export interface InventoryOptions {
  /** Cluster name, a DNS label. */
  name?: string;
  vip?: { address?: string; interface?: string; port?: number };
  versions?: { kubernetes?: string; etcd?: string; containerd?: string };
  network?: { podCidr?: string; serviceCidr?: string; dnsDomain?: string; cniManifest?: string };
  rollout?: { workerBatch?: number | string; maxFailures?: number };
}

/** The converted inventory: the checked document (or problems) plus notes on what was left out or assumed. */
export type InventoryResult = ClusterParseResult & {
  notes: ClusterProblem[];
  /** The hosts taken, with the addresses the inventory gives each (matched to enrolled hosts by inventory-match.ts). */
  addresses: InventoryHostAddresses[];
};

/** An inventory's form; `detectInventoryFormat` guesses it from the file name and content. */
export type InventoryFormat = 'yaml' | 'ini';

/** One host as the inventory describes it. */
interface InventoryHost {
  vars: Record<string, string>;
  /** Where it was first seen, for messages: `/all/hosts/node1` or `line 3`. */
  origin: string;
}

interface InventoryGroup {
  hosts: Set<string>;
  children: Set<string>;
}

/** The parsed inventory before role mapping: Ansible's model, reduced to what a Cluster needs. */
interface Inventory {
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /** `all` vars (YAML `all.vars`, INI `[all:vars]`). */
  vars: Record<string, string>;
}

const ROLE_GROUPS: Record<ClusterRole, readonly string[]> = {
  etcd: ['etcd'],
  'control-plane': ['kube_control_plane', 'kube-master', 'kube_master'],
  worker: ['kube_node', 'kube-node'],
};
const LEGACY_GROUPS: Readonly<Record<string, string>> = { 'kube-master': 'kube_control_plane', kube_master: 'kube_control_plane', 'kube-node': 'kube_node' };

/** `ini` when the first meaningful line is a `[section]` or an INI host line, else `yaml`. */
export function detectInventoryFormat(fileName: string, text: string): InventoryFormat {
  if (/\.(ya?ml|json)$/i.test(fileName)) return 'yaml';
  if (/\.(ini|cfg)$/i.test(fileName)) return 'ini';
  const first = text.split('\n').find((l) => l.trim() !== '' && !/^\s*[#;]/.test(l) && l.trim() !== '---');
  return first !== undefined && (/^\s*\[/.test(first) || /^\S+(\s+\S+=\S*)+\s*$/.test(first)) ? 'ini' : 'yaml';
}

/** Parses a kubespray inventory and builds the Cluster document from it and `options`. */
export function inventoryToCluster(text: string, format: InventoryFormat, options: InventoryOptions = {}): InventoryResult {
  const notes: ClusterProblem[] = [];
  const parsed = format === 'ini' ? parseIni(text) : parseYamlInventory(text);
  if (!parsed.ok) return { ok: false, problems: parsed.problems, notes, addresses: [] };
  const inventory = parsed.inventory;
  const problems: ClusterProblem[] = [];
  for (const [legacy, current] of Object.entries(LEGACY_GROUPS)) {
    if (inventory.groups.has(legacy)) notes.push({ path: `/${legacy}`, message: `legacy kubespray group name: read as ${current}` });
  }
  const members = new Map<ClusterRole, Set<string>>();
  for (const [role, groups] of Object.entries(ROLE_GROUPS) as [ClusterRole, readonly string[]][]) {
    members.set(role, new Set(groups.flatMap((g) => [...membersOf(inventory, g)])));
  }
  const hosts: Record<string, unknown>[] = [];
  const origins: string[] = [];
  const addresses: InventoryHostAddresses[] = [];
  for (const [name, host] of inventory.hosts) {
    const roles = (['etcd', 'control-plane', 'worker'] as const).filter((r) => members.get(r)?.has(name));
    if (roles.length === 0) {
      notes.push({ path: host.origin, message: `host "${name}" is in none of etcd, kube_control_plane, kube_node: left out` });
      continue;
    }
    const address = addressOf(name, host.vars);
    if (address === null) {
      problems.push({ path: host.origin, message: `host "${name}" has no IP address: set ip (or access_ip, ansible_host)` });
      continue;
    }
    if (isIP(address.value) === 0) {
      problems.push({ path: host.origin, message: `host "${name}": ${address.from} "${address.value}" is not an IP address; set ip to the host's cluster address` });
      continue;
    }
    hosts.push({ name, address: address.value, roles });
    origins.push(host.origin);
    const given = (['ip', 'access_ip', 'ansible_host'] as const).flatMap((key) => (host.vars[key] ? [{ key, value: host.vars[key] ?? '' }] : []));
    addresses.push({ name, origin: host.origin, addresses: given });
  }
  for (const group of inventory.groups.keys()) {
    const known = Object.values(ROLE_GROUPS).flat().includes(group) || ['all', 'ungrouped', 'k8s_cluster', 'k8s-cluster'].includes(group);
    if (!known && membersOf(inventory, group).size > 0) notes.push({ path: `/${group}`, message: `group "${group}" has no meaning to Ballast: ignored` });
  }
  // kubespray's sample inventory.ini ships with every host line commented out; the schema would
  // only say "/hosts: expected array length to be greater or equal to 1".
  const empty = inventory.hosts.size === 0;
  if (empty) problems.push({ path: '/hosts', message: "the inventory has no hosts (are all host lines commented out? kubespray's sample inventory.ini has them so)" });
  const document = buildDocument(inventory.vars, hosts, options);
  const checked = checkClusterDocument(document);
  if (checked.ok && problems.length === 0) return { ...checked, notes, addresses };
  // Host problems from the schema are reported at the generated document's paths; say which
  // inventory entry each one came from, since the operator never saw that document. A value that
  // came from a flag is named by its flag: the operator never wrote `/vip/address`.
  const fromFlags = flagPaths(options);
  const schemaProblems = checked.ok
    ? []
    : checked.problems.flatMap((p) => {
        if (empty && p.path === '/hosts') return [];
        const flag = fromFlags.get(p.path);
        if (flag !== undefined) return [{ path: flag, message: p.message }];
        const index = /^\/hosts\/(\d+)(\/|$)/.exec(p.path)?.[1];
        const origin = index === undefined ? undefined : origins[Number(index)];
        return [origin === undefined ? p : { path: p.path, message: `${p.message} (inventory: ${origin})` }];
      });
  return { ok: false, problems: [...problems, ...schemaProblems], notes, addresses };
}

/** ballastctl's flag for each document path an option sets, for the options that are set. */
export function flagPaths(o: InventoryOptions): Map<string, string> {
  const given: [string, string, unknown][] = [
    ['/name', '--name', o.name],
    ['/vip/address', '--vip', o.vip?.address],
    ['/vip/interface', '--vip-interface', o.vip?.interface],
    ['/vip/port', '--vip-port', o.vip?.port],
    ['/versions/kubernetes', '--kubernetes-version', o.versions?.kubernetes],
    ['/versions/etcd', '--etcd-version', o.versions?.etcd],
    ['/versions/containerd', '--containerd-version', o.versions?.containerd],
    ['/network/podCidr', '--pod-cidr', o.network?.podCidr],
    ['/network/serviceCidr', '--service-cidr', o.network?.serviceCidr],
    ['/network/cniManifest', '--cni-manifest', o.network?.cniManifest],
  ];
  return new Map(given.filter(([, , value]) => value !== undefined).map(([path, flag]) => [path, flag]));
}

function addressOf(name: string, vars: Record<string, string>): { value: string; from: string } | null {
  for (const key of ['ip', 'access_ip', 'ansible_host']) {
    const value = vars[key];
    if (value !== undefined && value !== '') return { value, from: key };
  }
  return isIP(name) === 0 ? null : { value: name, from: 'inventory name' };
}

/** Options over inventory vars over schema defaults; absent fields stay absent so defaults apply. */
function buildDocument(vars: Record<string, string>, hosts: Record<string, unknown>[], o: InventoryOptions): Record<string, unknown> {
  const pick = <T>(...values: (T | undefined)[]): T | undefined => values.find((v) => v !== undefined);
  const compact = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
  return compact({
    apiVersion: 'ballast.dev/v1alpha1',
    kind: 'Cluster',
    name: o.name,
    versions: compact({
      kubernetes: pick(o.versions?.kubernetes, vars.kube_version),
      etcd: o.versions?.etcd,
      containerd: o.versions?.containerd,
    }),
    vip: compact({
      address: pick(o.vip?.address, vars.kube_vip_address),
      interface: pick(o.vip?.interface, vars.kube_vip_interface),
      port: o.vip?.port,
    }),
    network: compact({
      podCidr: pick(o.network?.podCidr, vars.kube_pods_subnet),
      serviceCidr: pick(o.network?.serviceCidr, vars.kube_service_addresses),
      dnsDomain: pick(o.network?.dnsDomain, vars.dns_domain),
      cniManifest: o.network?.cniManifest,
    }),
    hosts,
    rollout: compact({ workerBatch: o.rollout?.workerBatch, maxFailures: o.rollout?.maxFailures }),
  });
}

/** Hosts of `group` and of its children, recursively (a cycle is cut, as Ansible refuses it anyway). */
function membersOf(inventory: Inventory, group: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  const g = inventory.groups.get(group);
  if (g === undefined || seen.has(group)) return out;
  seen.add(group);
  for (const h of g.hosts) out.add(h);
  for (const child of g.children) for (const h of membersOf(inventory, child, seen)) out.add(h);
  return out;
}

type ParsedInventory = { ok: true; inventory: Inventory } | { ok: false; problems: ClusterProblem[] };

function emptyInventory(): Inventory {
  return { hosts: new Map(), groups: new Map(), vars: {} };
}

function groupOf(inventory: Inventory, name: string): InventoryGroup {
  let group = inventory.groups.get(name);
  if (group === undefined) {
    group = { hosts: new Set(), children: new Set() };
    inventory.groups.set(name, group);
  }
  return group;
}

/** Adds a host to a group; its vars merge with those given elsewhere (Ansible's behaviour). */
function addHost(inventory: Inventory, group: string, name: string, vars: Record<string, string>, origin: string): void {
  const existing = inventory.hosts.get(name);
  if (existing === undefined) inventory.hosts.set(name, { vars: { ...vars }, origin });
  else Object.assign(existing.vars, vars);
  groupOf(inventory, group).hosts.add(name);
}

/** Ansible's host-range syntax (`node[01:20]`) expands to many hosts; not supported. */
const RANGE = /\[[^\]]*:[^\]]*\]/;

// ---------- YAML ----------

function parseYamlInventory(text: string): ParsedInventory {
  const parsed = parseBoundedYaml(text);
  if (!parsed.ok) return parsed;
  const root = parsed.value;
  if (!isMapping(root)) return { ok: false, problems: [{ path: '/', message: 'must be a mapping of groups (all: {hosts, children})' }] };
  const inventory = emptyInventory();
  const problems: ClusterProblem[] = [];
  for (const [name, node] of Object.entries(root)) readYamlGroup(inventory, name, node, `/${name}`, problems);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, inventory };
}

function readYamlGroup(inventory: Inventory, name: string, node: unknown, path: string, problems: ClusterProblem[]): void {
  groupOf(inventory, name);
  if (node === null || node === undefined) return;
  if (!isMapping(node)) {
    problems.push({ path, message: 'must be a mapping with hosts, children or vars' });
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}/${key}`;
    if (value === null || value === undefined) continue;
    if (!isMapping(value)) {
      problems.push({ path: at, message: 'must be a mapping' });
      continue;
    }
    if (key === 'hosts') {
      for (const [host, vars] of Object.entries(value)) {
        if (RANGE.test(host)) problems.push({ path: `${at}/${host}`, message: 'host ranges are not supported: list each host' });
        else addHost(inventory, name, host, scalarVars(vars), `${at}/${host}`);
      }
    } else if (key === 'children') {
      for (const [child, childNode] of Object.entries(value)) {
        groupOf(inventory, name).children.add(child);
        readYamlGroup(inventory, child, childNode, `${at}/${child}`, problems);
      }
    } else if (key === 'vars') {
      if (name === 'all') Object.assign(inventory.vars, scalarVars(value));
    } else {
      problems.push({ path: at, message: `unknown key${didYouMean(key, ['hosts', 'children', 'vars'])}: a group has hosts, children and vars` });
    }
  }
}

/** Host vars as strings; structured values (lists, maps) are irrelevant here and dropped. */
function scalarVars(value: unknown): Record<string, string> {
  if (!isMapping(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------- INI ----------

/**
 * Ansible's INI inventory: `[group]` host lines with `key=value` vars, `[group:children]` group
 * names, `[group:vars]` `key=value` lines; `#` and `;` start comments; hosts before any section
 * are `ungrouped`. Values may be quoted.
 */
function parseIni(text: string): ParsedInventory {
  const bytes = Buffer.byteLength(text);
  if (bytes > 1024 * 1024) return { ok: false, problems: [{ path: '/', message: `is ${bytes} bytes, over the 1048576-byte limit` }] };
  const inventory = emptyInventory();
  const problems: ClusterProblem[] = [];
  let section = { group: 'ungrouped', kind: 'hosts' as 'hosts' | 'children' | 'vars' };
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const where = `line ${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]:\s]+)(?::(children|vars))?\]$/.exec(line);
    if (header !== null) {
      section = { group: header[1] ?? '', kind: (header[2] as 'children' | 'vars' | undefined) ?? 'hosts' };
      groupOf(inventory, section.group);
      continue;
    }
    if (line.startsWith('[')) {
      problems.push({ path: where, message: `bad section header ${JSON.stringify(line)}` });
      continue;
    }
    const tokens = tokenize(line);
    if (tokens === null) {
      problems.push({ path: where, message: 'unterminated quote' });
      continue;
    }
    if (section.kind === 'vars') {
      // One `key = value` per line; the value is the rest of the line (spaces allowed), unquoted.
      const vars = keyValues(tokens.join(' ').replace(/\s*=\s*/, '='), where, problems, '\n');
      if (section.group === 'all' && vars !== null) Object.assign(inventory.vars, vars);
      continue;
    }
    const [name = '', ...rest] = tokens;
    if (section.kind === 'children') {
      if (rest.length > 0) problems.push({ path: where, message: `a [${section.group}:children] line names one group` });
      else groupOf(inventory, section.group).children.add(name);
      continue;
    }
    if (RANGE.test(name)) {
      problems.push({ path: where, message: `host ranges (${name}) are not supported: list each host` });
      continue;
    }
    const vars = keyValues(rest.join('\u0000'), where, problems, '\u0000');
    if (vars !== null) addHost(inventory, section.group, name, vars, `${where} [${section.group}]`);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, inventory };
}

/** Splits on unquoted whitespace, removing the quotes; stops at an unquoted ` #` comment. Null on an open quote. */
function tokenize(line: string): string[] | null {
  const tokens: string[] = [];
  let current = '';
  let quote: string | null = null;
  let inToken = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote !== null) {
      if (c === quote) quote = null;
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else if (c === '#' && !inToken) {
      break;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote !== null) return null;
  if (inToken) tokens.push(current);
  return tokens;
}

function keyValues(text: string, where: string, problems: ClusterProblem[], separator = ' '): Record<string, string> | null {
  const out: Record<string, string> = {};
  if (text === '') return out;
  for (const pair of text.split(separator)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      problems.push({ path: where, message: `expected key=value, got ${JSON.stringify(pair)}` });
      return null;
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
