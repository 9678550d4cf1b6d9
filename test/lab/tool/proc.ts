import { readFileSync, readdirSync } from 'node:fs';

/**
 * A process the lab started, identified by pid AND its start time (field 22 of /proc/PID/stat), so a
 * recycled pid is never signalled by mistake — the lab ends only processes it started.
 */
export interface ProcRef {
  pid: number;
  startTime: string;
}

/** The start time of a live pid, or null if it is gone. */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null; // no such process (ENOENT) is the normal "gone" answer
  }
}

export function procRef(pid: number): ProcRef {
  const startTime = startTimeOf(pid);
  if (startTime === null) throw new Error(`failed to identify process ${pid}: it is not running`);
  return { pid, startTime };
}

/** True while the very process `ref` names is alive (and not a zombie). */
export function isAlive(ref: ProcRef | null | undefined): ref is ProcRef {
  if (!ref) return false;
  if (startTimeOf(ref.pid) !== ref.startTime) return false;
  try {
    const status = readFileSync(`/proc/${ref.pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Sends a signal to `ref` only if it is still that process. */
export function signal(ref: ProcRef, sig: NodeJS.Signals): boolean {
  if (!isAlive(ref)) return false;
  try {
    process.kill(ref.pid, sig);
    return true;
  } catch {
    return false; // exited between the check and the kill
  }
}

/** Direct children of a pid (all threads). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    return out; // the process exited while we read it
  }
  return out;
}

export function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}
