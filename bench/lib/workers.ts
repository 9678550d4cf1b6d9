/**
 * The load-generator processes of one fan-in phase: spawns them (fd limit raised), hands each its
 * slice of agents, and collects their connect summaries and window stats over IPC.
 */
import { BENCH_JS, type Child, isGone, sleep, spawnNode, stopChild } from './proc.js';
import { type ConnectSummary, type FromWorker, isFromWorker, type ToWorker, type WindowStats, type WorkerConfig } from './ipc.js';

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  workers: number;
  agents: number;
  /** Everything but the slice, index and local address. */
  base: Omit<WorkerConfig, 'index' | 'start' | 'end' | 'localAddress' | 'connectRate'>;
  /** Total connects per second over all workers. */
  connectRate: number;
}

/** See the file comment. */
export class WorkerPool {
  readonly children: Child[] = [];
  private readonly progress = new Map<number, { connected: number; failed: number; inflight: number }>();
  private readonly connected = new Map<number, ConnectSummary>();
  private readonly stats = new Map<number, WindowStats>();
  private readonly fatal: string[] = [];

  constructor(private readonly opts: WorkerPoolOptions) {
    const per = Math.ceil(opts.agents / opts.workers);
    for (let w = 0; w < opts.workers; w++) {
      const start = w * per;
      const end = Math.min(opts.agents, start + per);
      const child = spawnNode(BENCH_JS('fanin-worker.js'), [], { name: `worker-${w}`, ipc: true });
      child.proc.on('message', (m: unknown) => {
        if (isFromWorker(m)) this.onMessage(m);
      });
      const config: WorkerConfig = {
        ...opts.base,
        index: w,
        start,
        end,
        // 127.0.1.x: a source IP per worker, so each gets its own ephemeral port range.
        localAddress: `127.0.1.${w + 1}`,
        connectRate: opts.connectRate / opts.workers,
      };
      this.send(child, { type: 'init', config });
      this.children.push(child);
    }
  }

  private send(child: Child, msg: ToWorker): void {
    if (!isGone(child) && child.proc.connected) child.proc.send(msg);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'progress':
        this.progress.set(m.index, { connected: m.connected, failed: m.failed, inflight: m.inflight });
        return;
      case 'connected':
        this.connected.set(m.index, m.summary);
        return;
      case 'stats':
        this.stats.set(m.index, m.stats);
        return;
      case 'fatal':
        this.fatal.push(`worker ${m.index}: ${m.message}`);
        return;
    }
  }

  private checkAlive(): void {
    if (this.fatal.length > 0) throw new Error(`load generator failed: ${this.fatal.join('; ')}`);
    for (const c of this.children) if (isGone(c)) throw new Error(`${c.name} exited unexpectedly:\n${c.tail()}`);
  }

  /** Waits for every worker's connect summary; reports progress on stderr every ~2 s. */
  async waitConnected(deadline: number, label: string): Promise<{ summaries: ConnectSummary[]; timedOut: boolean }> {
    let lastLine = 0;
    while (this.connected.size < this.children.length) {
      this.checkAlive();
      if (Date.now() > deadline) return { summaries: [...this.connected.values()], timedOut: true };
      if (Date.now() - lastLine > 2000) {
        lastLine = Date.now();
        let connected = 0;
        let failed = 0;
        let inflight = 0;
        for (const p of this.progress.values()) {
          connected += p.connected;
          failed += p.failed;
          inflight += p.inflight;
        }
        process.stderr.write(`${label}: connected ${connected}/${this.opts.agents}, failed ${failed}, handshakes in flight ${inflight}\n`);
      }
      await sleep(100);
    }
    return { summaries: [...this.connected.values()], timedOut: false };
  }

  /** Live connect progress (also after a connect timeout). */
  progressTotals(): { connected: number; failed: number } {
    let connected = 0;
    let failed = 0;
    for (const p of this.progress.values()) {
      connected += p.connected;
      failed += p.failed;
    }
    return { connected, failed };
  }

  measureStart(): void {
    for (const c of this.children) this.send(c, { type: 'measure-start' });
  }

  /** Ends the window in every worker and waits for their stats (they wait `graceMs` for late acks). */
  async measureStop(graceMs: number, timeoutMs: number): Promise<WindowStats[]> {
    this.stats.clear();
    for (const c of this.children) this.send(c, { type: 'measure-stop', graceMs });
    const deadline = Date.now() + graceMs + timeoutMs;
    while (this.stats.size < this.children.length) {
      this.checkAlive();
      if (Date.now() > deadline) throw new Error(`load generators sent no stats within ${graceMs + timeoutMs} ms`);
      await sleep(50);
    }
    return [...this.stats.values()];
  }

  /** Asks every worker to close its sockets and exit; kills those that do not (by PID). */
  async shutdown(): Promise<void> {
    for (const c of this.children) this.send(c, { type: 'shutdown' });
    await Promise.all(
      this.children.map(async (c) => {
        const gone = await Promise.race([c.exited.then(() => true), sleep(5000).then(() => false)]);
        if (!gone) await stopChild(c, 3000);
      }),
    );
  }
}
