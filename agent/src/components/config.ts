import { readdir } from 'node:fs/promises';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { COMPONENTS_DIR, type ComponentProbe, type ComponentSpec, ComponentSpecSchema } from '../../../shared/src/components.js';
import { messageOf } from '../../../shared/src/errors.js';
import { lstatOrNull, readFileOrNull } from '../tasks/attrs.js';
import { hostPath } from '../tasks/module.js';
import type { ProbeResult, SupervisedUnit, SupervisedUnitSource } from './supervised-unit.js';
import { CONTAINERD_VERSION_PATH, probeGrpcUnix } from './grpc-probe.js';
import { probeEtcd, probeHttp, probeTcp } from './http-probe.js';

/** Used when a probe names no timeout. */
export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

const checkSpec = TypeCompiler.Compile(ComponentSpecSchema);

/** A components.d file that could not be used, and why. */
export interface ComponentFileProblem {
  file: string;
  message: string;
}

/**
 * Reads and validates every `*.json` in the components directory (under `root`). A bad file is
 * reported with the field path and skipped; it never stops the others. The file name must match
 * the component's name, so two files cannot claim one component.
 */
export async function loadComponentSpecs(opts: { root: string; dir?: string }): Promise<{
  specs: ComponentSpec[];
  problems: ComponentFileProblem[];
}> {
  const dir = opts.dir ?? COMPONENTS_DIR;
  let names: string[];
  try {
    names = (await readdir(hostPath(opts, dir))).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { specs: [], problems: [] };
    throw err;
  }
  const specs: ComponentSpec[] = [];
  const problems: ComponentFileProblem[] = [];
  for (const name of names) {
    const file = `${dir}/${name}`;
    try {
      const text = await readFileOrNull(hostPath(opts, file));
      if (text === null) continue; // removed while we listed
      const value: unknown = JSON.parse(text);
      if (!checkSpec.Check(value)) {
        const first = checkSpec.Errors(value).First();
        problems.push({ file, message: `at ${first?.path || '/'}: ${first?.message ?? 'invalid'}` });
      } else if (`${value.name}.json` !== name) {
        problems.push({ file, message: `at /name: "${value.name}" does not match the file name` });
      } else {
        specs.push(value);
      }
    } catch (err) {
      problems.push({ file, message: messageOf(err) });
    }
  }
  return { specs, problems };
}

/** The probe function for a spec; file paths in it are host paths resolved under `root`. */
export function createProbe(probe: ComponentProbe, root: string): () => Promise<ProbeResult> {
  const timeoutMs = probe.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const file = (path: string | undefined) => (path === undefined ? undefined : hostPath({ root }, path));
  switch (probe.kind) {
    case 'containerd':
      return () => probeGrpcUnix({ socket: file(probe.socket) ?? probe.socket, path: CONTAINERD_VERSION_PATH, timeoutMs });
    case 'etcd':
      return () =>
        probeEtcd({ url: probe.url, timeoutMs, caFile: file(probe.caFile), certFile: file(probe.certFile), keyFile: file(probe.keyFile) });
    case 'kubelet':
      return () => probeHttp({ url: probe.url, timeoutMs });
    case 'http':
      return () =>
        probeHttp({ url: probe.url, timeoutMs, caFile: file(probe.caFile), certFile: file(probe.certFile), keyFile: file(probe.keyFile) });
    case 'tcp':
      return () => probeTcp({ host: probe.host, port: probe.port, timeoutMs });
  }
}

/** Options of {@link supervisedUnitsFromDir}. */
export interface SupervisedUnitsFromDirOptions {
  /** '/' in production. */
  root: string;
  dir?: string;
  log: Logger;
}

/**
 * A {@link SupervisedUnitSource} over components.d: the roles write one file per component, so the
 * agent learns about new components without code changes or a restart. A component whose
 * `requiresPath` does not exist yet is left out (kubelet before kubeadm configured it is not
 * broken, just not ready to run). Problems are logged when they change, not on every tick.
 */
export function supervisedUnitsFromDir(opts: SupervisedUnitsFromDirOptions): SupervisedUnitSource {
  const log = opts.log.child({ component: 'components' });
  let lastProblems = '';
  return async () => {
    const { specs, problems } = await loadComponentSpecs(opts);
    const summary = JSON.stringify(problems);
    if (summary !== lastProblems) {
      lastProblems = summary;
      for (const p of problems) log.warn({ file: p.file }, `ignoring component file: ${p.message}`);
    }
    const out: SupervisedUnit[] = [];
    for (const spec of specs) {
      if (spec.requiresPath !== undefined && (await lstatOrNull(hostPath(opts, spec.requiresPath))) === null) continue;
      out.push({ name: spec.name, unit: spec.unit, intervalMs: spec.intervalMs, probe: createProbe(spec.probe, opts.root) });
    }
    return out;
  };
}
