/**
 * Summarises a V8 .cpuprofile: self and total (inclusive) time per function and self time per
 * module (package, file or node: internal), as percentages of busy (non-idle) time.
 */
import { ROOT } from './proc.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The parts of a .cpuprofile used here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One row of the function table. */
export interface FunctionRow {
  fn: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

/** The summary. */
export interface ProfileSummary {
  durationMs: number;
  busyMs: number;
  /** Busy time as a percentage of one core over the profile. */
  busyPercentOfCore: number;
  topSelf: FunctionRow[];
  topTotal: FunctionRow[];
  byModule: Array<{ module: string; selfMs: number; selfPct: number }>;
}

const r1 = (v: number) => Math.round(v * 10) / 10;

function isProfile(value: unknown): value is CpuProfile {
  const p = value as Partial<CpuProfile> | null;
  return typeof p === 'object' && p !== null && Array.isArray(p.nodes) && Array.isArray(p.samples) && Array.isArray(p.timeDeltas);
}

/** Shortens a script URL to something readable: package, dist path or node: module. */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 14).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? url);
  }
  return url.replace(`file://${ROOT}/`, '').replace(/^dist\//, '');
}

function keyOf(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  return `${name} ${moduleOf(f.url, f.functionName).replace(/^.*node_modules\//, '')}:${f.lineNumber + 1}`;
}

/** See the file comment. */
export function summariseProfile(value: unknown, top = 25): ProfileSummary {
  if (!isProfile(value)) throw new Error('not a V8 cpu profile (nodes/samples/timeDeltas missing)');
  const byId = new Map<number, ProfileNode>();
  for (const n of value.nodes) byId.set(n.id, n);
  // Self time: each sample lasts until the next one.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < value.samples.length; i++) {
    const id = value.samples[i] ?? -1;
    const dt = value.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const isIdle = (n: ProfileNode) => n.callFrame.functionName === '(idle)';
  let idleUs = 0;
  for (const n of value.nodes) if (isIdle(n)) idleUs += selfUs.get(n.id) ?? 0;
  const durationUs = value.endTime - value.startTime;
  const busyUs = Math.max(1, durationUs - idleUs);

  // Subtree totals (post-order), then inclusive time per function key, counted once per stack.
  const totalUs = new Map<number, number>();
  const order: number[] = [];
  const root = value.nodes[0];
  const stack: number[] = root === undefined ? [] : [root.id];
  while (stack.length > 0) {
    const id = stack.pop() ?? -1;
    order.push(id);
    for (const c of byId.get(id)?.children ?? []) stack.push(c);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i] ?? -1;
    let t = selfUs.get(id) ?? 0;
    for (const c of byId.get(id)?.children ?? []) t += totalUs.get(c) ?? 0;
    totalUs.set(id, t);
  }
  const selfByKey = new Map<string, number>();
  const totalByKey = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  const walk = (id: number, onStack: Map<string, number>) => {
    const node = byId.get(id);
    if (node === undefined || isIdle(node)) return;
    const key = keyOf(node.callFrame);
    selfByKey.set(key, (selfByKey.get(key) ?? 0) + (selfUs.get(id) ?? 0));
    const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
    selfByModule.set(mod, (selfByModule.get(mod) ?? 0) + (selfUs.get(id) ?? 0));
    const depth = onStack.get(key) ?? 0;
    if (depth === 0) totalByKey.set(key, (totalByKey.get(key) ?? 0) + (totalUs.get(id) ?? 0));
    onStack.set(key, depth + 1);
    for (const c of node.children ?? []) walk(c, onStack);
    onStack.set(key, depth);
  };
  if (root !== undefined) for (const c of root.children ?? []) walk(c, new Map());

  const row = (fn: string): FunctionRow => {
    const s = selfByKey.get(fn) ?? 0;
    const t = totalByKey.get(fn) ?? 0;
    return { fn, selfMs: r1(s / 1000), selfPct: r1((100 * s) / busyUs), totalMs: r1(t / 1000), totalPct: r1((100 * t) / busyUs) };
  };
  const sortedKeys = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  return {
    durationMs: r1(durationUs / 1000),
    busyMs: r1(busyUs / 1000),
    busyPercentOfCore: r1((100 * busyUs) / Math.max(1, durationUs)),
    topSelf: sortedKeys(selfByKey).slice(0, top).map(row),
    topTotal: sortedKeys(totalByKey)
      .filter((k) => k !== '(root)')
      .slice(0, top)
      .map(row),
    byModule: [...selfByModule.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, us]) => ({ module, selfMs: r1(us / 1000), selfPct: r1((100 * us) / busyUs) })),
  };
}
