/**
 * `preflight`: one read-only `preflight` task (agent/src/tasks/modules/preflight.ts) that fails
 * listing every problem of the host at once. The bootstrap renders it per host with the ports the
 * host's cluster roles need; it changes nothing, in check mode or not.
 */
import { Type } from '@sinclair/typebox';
import { checkPathVar } from './safe-vars.js';
import { task } from './tasks.js';
import type { RoleDefinition } from './types.js';

const AbsPath = Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512 });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });

const PreflightVars = Type.Object(
  {
    minKernel: Type.String({ pattern: '^[0-9]+(\\.[0-9]+){0,2}$', default: '4.19' }),
    freePorts: Type.Array(Type.Union([Port, Type.Object({ port: Port, unlessExists: AbsPath }, { additionalProperties: false })]), {
      default: [],
      maxItems: 32,
    }),
    minFreeBytes: Type.Record(AbsPath, Type.Integer({ minimum: 0 }), { default: {}, maxProperties: 8 }),
    cgroupV2: Type.Boolean({ default: true }),
    /** Off by default: os-prep turns swap off right after preflight. */
    noSwap: Type.Boolean({ default: false }),
    minMemoryBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    minCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
  },
  { additionalProperties: false },
);

/** The preflight role. */
export const preflightRole: RoleDefinition<typeof PreflightVars> = {
  name: 'preflight',
  description: 'read-only host checks (kernel, cgroup v2, swap, free ports, disk, memory, CPUs), every problem listed',
  vars: PreflightVars,
  render({ vars, problem }) {
    // Read-only checks may look anywhere, but at the path they name: canonical only.
    vars.freePorts.forEach((p, i) => {
      if (typeof p !== 'number') checkPathVar(problem, `/vars/freePorts/${i}/unlessExists`, p.unlessExists, null);
    });
    for (const path of Object.keys(vars.minFreeBytes)) checkPathVar(problem, `/vars/minFreeBytes/${path}`, path, null);
    const args = {
      minKernel: vars.minKernel,
      cgroupV2: vars.cgroupV2,
      noSwap: vars.noSwap,
      ...(vars.freePorts.length > 0 ? { freePorts: vars.freePorts } : {}),
      ...(Object.keys(vars.minFreeBytes).length > 0 ? { minFreeBytes: vars.minFreeBytes } : {}),
      ...(vars.minMemoryBytes === undefined ? {} : { minMemoryBytes: vars.minMemoryBytes }),
      ...(vars.minCpus === undefined ? {} : { minCpus: vars.minCpus }),
    };
    return { tasks: [task('Preflight checks', 'preflight', args)], handlers: [] };
  },
};
