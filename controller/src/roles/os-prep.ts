/**
 * `os-prep`: what kubeadm's preflight expects of every host — swap off, the overlay and
 * br_netfilter modules loaded and persisted, and IP forwarding plus bridge netfilter sysctls.
 */
import { Type } from '@sinclair/typebox';
import { checkKernelModules, checkSysctls } from './safe-vars.js';
import { task } from './tasks.js';
import type { RoleDefinition, RoleTask } from './types.js';

const KmodName = Type.String({ pattern: '^[a-z0-9_-]{1,64}$' });
const SysctlName = Type.String({ pattern: '^[a-z0-9_]+(\\.[a-z0-9_-]+)+$', maxLength: 256 });

/** The sysctls Kubernetes networking needs; `vars.sysctls` adds to or overrides these. */
export const DEFAULT_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1',
};

const OsPrepVars = Type.Object(
  {
    /** Turn swap off now and comment it out of /etc/fstab (kubelet refuses to run with swap by default). */
    swapOff: Type.Boolean({ default: true }),
    /** Kernel modules loaded now and at boot, in this order; names from KMOD_ALLOW_LIST. */
    kernelModules: Type.Array(KmodName, { default: ['overlay', 'br_netfilter'], maxItems: 32, uniqueItems: true }),
    /** Merged over the defaults (a given key overrides the default value); names from SYSCTL_ALLOW_LIST, numeric values only. */
    sysctls: Type.Record(SysctlName, Type.String({ pattern: '^[^\\n]{0,256}$' }), { default: { ...DEFAULT_SYSCTLS }, maxProperties: 128 }),
    /** File under /etc/sysctl.d the sysctls persist in. */
    sysctlFile: Type.String({ pattern: '^[A-Za-z0-9._-]+\\.conf$', maxLength: 128, default: '99-ballast-kubernetes.conf' }),
  },
  { additionalProperties: false },
);

/** The os-prep role. */
export const osPrepRole: RoleDefinition<typeof OsPrepVars> = {
  name: 'os-prep',
  description: 'swap off, overlay + br_netfilter modules, ip_forward and bridge sysctls',
  vars: OsPrepVars,
  render({ vars, problem }) {
    // Allow-lists (shared with the agent, which re-checks): `kernel.core_pattern = |/bin/sh …` is root code execution.
    checkSysctls(problem, '/vars/sysctls', vars.sysctls);
    checkKernelModules(problem, '/vars/kernelModules', vars.kernelModules);
    const tasks: RoleTask[] = [];
    if (vars.swapOff) tasks.push(task('Disable swap', 'swap', { state: 'off' }));
    for (const name of vars.kernelModules) tasks.push(task(`Load kernel module ${name}`, 'kmod', { name, state: 'present' }));
    // Bridge sysctls exist only once br_netfilter is loaded; catch the mistake here, not on the host.
    const bridged = Object.keys(vars.sysctls).some((k) => k.startsWith('net.bridge.'));
    if (bridged && !vars.kernelModules.includes('br_netfilter')) {
      problem('/vars/kernelModules', 'net.bridge.* sysctls need the br_netfilter module; add it or drop those sysctls');
    }
    for (const [name, value] of Object.entries(vars.sysctls).sort(([a], [b]) => a.localeCompare(b))) {
      tasks.push(task(`Set sysctl ${name} = ${value}`, 'sysctl', { name, value, file: vars.sysctlFile }));
    }
    return { tasks, handlers: [] };
  },
};
