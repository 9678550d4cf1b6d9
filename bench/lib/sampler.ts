/**
 * Samples one process over a measurement window: CPU from /proc/<pid>/stat deltas (100 % = one
 * core), RSS from /proc/<pid>/status every `everyMs` (median, peak, end) plus the kernel's lifetime
 * peak (VmHWM).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, memoryMb } from './proc.js';

/** What one process did during the window. */
export interface ProcessWindow {
  pid: number;
  seconds: number;
  cpuSeconds: number;
  /** Percent of one core over the window. */
  cpuPercent: number;
  /** CPU of reaped children (e.g. helper programs the process spawned). */
  childCpuSeconds: number;
  rssMbMedian: number;
  rssMbPeak: number;
  rssMbEnd: number;
  /** Lifetime peak RSS (VmHWM) at the end of the window. */
  rssMbLifetimePeak: number;
  samples: number;
  /** Bytes the process caused to be written to storage (/proc/<pid>/io write_bytes), MB/s. */
  diskWriteMBps: number;
  /** write-family syscalls per second (sockets and files). */
  writeSyscallsPerSecond: number;
  /** Voluntary context switches per second (the process blocked: I/O, locks, idle waits). */
  voluntarySwitchesPerSecond: number;
}

/** Counters from /proc/<pid>/io and /proc/<pid>/status (zeros when unreadable). */
function ioCounters(pid: number): { writeBytes: number; syscw: number; voluntary: number } {
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  let io = '';
  let status = '';
  try {
    io = readFileSync(`/proc/${pid}/io`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone or not ours: zeros
  }
  return { writeBytes: field(io, 'write_bytes'), syscw: field(io, 'syscw'), voluntary: field(status, 'voluntary_ctxt_switches') };
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** See the file comment. Call `stop()` exactly once. */
export class ProcessSampler {
  private readonly startedAt = performance.now();
  private readonly cpu0;
  private readonly io0;
  private readonly rss: number[] = [];

  /** The RSS samples so far (MB, one per `everyMs`). */
  get rssSeries(): readonly number[] {
    return this.rss;
  }
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    everyMs = 1000,
  ) {
    this.cpu0 = cpuSeconds(pid) ?? { self: 0, children: 0 };
    this.io0 = ioCounters(pid);
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), everyMs);
  }

  private sampleRss(): void {
    const m = memoryMb(this.pid);
    if (m !== null) this.rss.push(m.rss);
  }

  stop(): ProcessWindow {
    clearInterval(this.timer);
    const cpu1 = cpuSeconds(this.pid) ?? this.cpu0;
    const io1 = ioCounters(this.pid);
    this.sampleRss();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const used = cpu1.self - this.cpu0.self;
    const sorted = [...this.rss].sort((a, b) => a - b);
    return {
      pid: this.pid,
      seconds: round(seconds, 1),
      cpuSeconds: round(used),
      cpuPercent: round(seconds > 0 ? (100 * used) / seconds : 0, 2),
      childCpuSeconds: round(cpu1.children - this.cpu0.children),
      rssMbMedian: round(sorted[Math.floor(sorted.length / 2)] ?? 0, 1),
      rssMbPeak: round(sorted[sorted.length - 1] ?? 0, 1),
      rssMbEnd: round(this.rss[this.rss.length - 1] ?? 0, 1),
      rssMbLifetimePeak: round(memoryMb(this.pid)?.hwm ?? 0, 1),
      samples: this.rss.length,
      diskWriteMBps: round(seconds > 0 ? (io1.writeBytes - this.io0.writeBytes) / 2 ** 20 / seconds : 0),
      writeSyscallsPerSecond: Math.round(seconds > 0 ? (io1.syscw - this.io0.syscw) / seconds : 0),
      voluntarySwitchesPerSecond: Math.round(seconds > 0 ? (io1.voluntary - this.io0.voluntary) / seconds : 0),
    };
  }
}

/** Whole-machine CPU over a window, in percent of one core (200 % = both cores of this machine). */
export interface MachineWindow {
  busyPercent: number;
  /** Time the hypervisor ran something else while we wanted the CPU. */
  stealPercent: number;
  /** Interrupt and softirq time (loopback TCP is largely processed here, outside any process). */
  irqPercent: number;
}

function machineTicks(): { busy: number; steal: number; irq: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait - steal, steal, irq: irq + softirq, total };
}

/** Samples /proc/stat at construction and at `stop()`. */
export class MachineSampler {
  private readonly t0 = machineTicks();

  stop(): MachineWindow {
    const t1 = machineTicks();
    const total = Math.max(1, t1.total - this.t0.total);
    const scale = 100 * cpus().length;
    return {
      busyPercent: round((scale * (t1.busy - this.t0.busy)) / total, 1),
      stealPercent: round((scale * (t1.steal - this.t0.steal)) / total, 1),
      irqPercent: round((scale * (t1.irq - this.t0.irq)) / total, 1),
    };
  }
}

/**
 * Waits (at most `maxWaitMs`) until the machine's busy CPU over a 3 s probe is below
 * `thresholdPercent` of one core: on a shared machine, other people's builds otherwise land in our
 * measurement window. Returns how long it waited and the last probe.
 */
export async function waitForQuiet(thresholdPercent: number, maxWaitMs: number): Promise<{ waitedSeconds: number; busyPercent: number; quiet: boolean }> {
  const started = performance.now();
  for (;;) {
    const probe = new MachineSampler();
    await new Promise((r) => setTimeout(r, 3000));
    const { busyPercent } = probe.stop();
    const waited = performance.now() - started;
    if (busyPercent < thresholdPercent || waited >= maxWaitMs) {
      return { waitedSeconds: Math.round(waited / 1000), busyPercent, quiet: busyPercent < thresholdPercent };
    }
  }
}
