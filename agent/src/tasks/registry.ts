import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { BallastError } from '../../../shared/src/errors.js';
import { type ModuleArgs, ModuleArgsSchemas, type ModuleName } from '../../../shared/src/tasks/modules.js';
import type { Module, ModuleContext, ModuleOutcome, PrefetchRef } from './module.js';
import { commandModule } from './modules/command.js';
import { directoryModule } from './modules/directory.js';
import { etcdMemberModule } from './modules/etcd-member.js';
import { etcdDataModule } from './modules/etcd-data.js';
import { etcdRestoreModule } from './modules/etcd-restore.js';
import { fileModule } from './modules/file.js';
import { kmodModule } from './modules/kmod.js';
import { kubeadmModule } from './modules/kubeadm.js';
import { preflightModule } from './modules/preflight.js';
import { staticPodModule } from './modules/static-pod.js';
import { swapModule } from './modules/swap.js';
import { sysctlModule } from './modules/sysctl.js';
import { systemdModule } from './modules/systemd.js';
import { templateModule } from './modules/template.js';

/** At most this many schema problems are listed in one error message. */
const MAX_REPORTED_PROBLEMS = 5;

/** The modules an agent can run, by name, with their argument validators. */
export interface ModuleRegistry {
  /** Names of the registered modules, sorted. */
  names(): ModuleName[];
  /** Null when `args` are valid for `module`, else a coded error whose `path` is the first bad field (`/args/…`). */
  validate(module: string, args: unknown): BallastError | null;
  /**
   * Validates, then runs. A bad argument or an unknown module throws before the module is called,
   * so an invalid task never touches the host.
   */
  run(module: string, args: unknown, ctx: ModuleContext): Promise<ModuleOutcome>;
  /** The module's {@link Module.prefetch} for valid `args`; null for invalid args or a module without one. */
  prefetch?(module: string, args: unknown, ctx: ModuleContext): Promise<PrefetchRef | null>;
}

/**
 * The modules every agent has. `artifact` and `image` are not among them: they need the controller's mirror.
 * `etcd_member` here talks to etcd over HTTPS; tests replace it with
 * `createEtcdMemberModule({ connect: fake })` through `extra`.
 */
export const BUILTIN_MODULES: readonly Module<ModuleName>[] = [
  fileModule,
  templateModule,
  directoryModule,
  systemdModule,
  sysctlModule,
  kmodModule,
  swapModule,
  commandModule,
  etcdMemberModule,
  etcdRestoreModule,
  etcdDataModule,
  kubeadmModule,
  preflightModule,
  staticPodModule,
];

/**
 * Builds a registry of the built-in modules plus `extra`, which win on a name clash — that is how
 * a configured `createCommandModule({ allow })` replaces the default `command`, and how the
 * `artifact` module is added.
 */
export function createModuleRegistry(extra: Module<ModuleName>[] = []): ModuleRegistry {
  const modules = new Map<string, Module<ModuleName>>();
  for (const module of [...BUILTIN_MODULES, ...extra]) modules.set(module.name, module);
  const checks = new Map<string, TypeCheck<TSchema>>();
  for (const name of modules.keys()) {
    checks.set(name, TypeCompiler.Compile(ModuleArgsSchemas[name as ModuleName] as TSchema));
  }

  const validate = (module: string, args: unknown): BallastError | null => {
    const check = checks.get(module);
    if (check === undefined) {
      return new BallastError('BALLAST_ERR_UNSUPPORTED', `failed to run module "${module}": this agent has no such module`, {
        path: '/module',
      });
    }
    if (check.Check(args)) return null;
    const problems = [...check.Errors(args)].slice(0, MAX_REPORTED_PROBLEMS);
    const where = (path: string) => `/args${path}`;
    const list = problems.map((p) => `${where(p.path)}: ${p.message}`).join('; ');
    return new BallastError('BALLAST_ERR_VALIDATION', `failed to validate arguments of module ${module}: ${list}`, {
      path: where(problems[0]?.path ?? ''),
    });
  };

  return {
    names: () => [...modules.keys()].sort() as ModuleName[],
    validate,
    async run(module, args, ctx) {
      const error = validate(module, args);
      if (error !== null) throw error;
      const impl = modules.get(module) as Module<ModuleName>;
      return impl.run(args as ModuleArgs<ModuleName>, ctx);
    },
    async prefetch(module, args, ctx) {
      const impl = modules.get(module);
      if (impl?.prefetch === undefined || validate(module, args) !== null) return null;
      return impl.prefetch(args as ModuleArgs<ModuleName>, ctx);
    },
  };
}
