/**
 * A tiny Chrome DevTools Protocol client for a child started with `--inspect=127.0.0.1:0`: starts
 * and stops the V8 sampling profiler so that a profile covers exactly the measurement window (a
 * `--cpu-prof` profile would be dominated by start-up and the connect storm).
 */
import WebSocket from 'ws';
import type { Child } from './proc.js';
import { sleep } from './proc.js';

/** A connected inspector session. */
export class InspectorClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message?: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(msg.error.message ?? 'inspector error'));
      else p.resolve(msg.result);
    });
  }

  /** Waits for the child's "Debugger listening on ws://…" line and connects to it. */
  static async attach(child: Child, timeoutMs = 15_000): Promise<InspectorClient> {
    const deadline = Date.now() + timeoutMs;
    let url: string | undefined;
    while (url === undefined) {
      url = /Debugger listening on (ws:\/\/\S+)/.exec(child.tail())?.[1];
      if (url !== undefined) break;
      if (Date.now() > deadline) throw new Error('the inspector URL never appeared on the child’s stderr');
      await sleep(50);
    }
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    return new InspectorClient(ws);
  }

  /** Sends one CDP command and resolves with its result. */
  call(method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Starts sampling every `intervalUs` microseconds. */
  async startProfiler(intervalUs = 500): Promise<void> {
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: intervalUs });
    await this.call('Profiler.start');
  }

  /** Stops sampling and returns the profile (the .cpuprofile JSON object). */
  async stopProfiler(): Promise<unknown> {
    const result = (await this.call('Profiler.stop')) as { profile?: unknown };
    return result.profile;
  }

  /** process.memoryUsage() of the inspected process in MB, optionally after a full GC. */
  async memoryUsageMb(afterGc: boolean): Promise<Record<string, number>> {
    if (afterGc) await this.call('HeapProfiler.collectGarbage');
    const result = (await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result?: { value?: unknown } };
    const raw = JSON.parse(String(result.result?.value ?? '{}')) as Record<string, number>;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(raw)) out[k] = Math.round((v / 2 ** 20) * 10) / 10;
    return out;
  }

  close(): void {
    this.ws.terminate();
  }
}
