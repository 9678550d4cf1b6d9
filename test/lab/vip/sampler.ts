/**
 * The address sampler: a standalone program in the root namespace. It keeps one `ip -j -force -n
 * <netns> -batch -` process per host and, every `--interval` ms, asks all of them at once for
 * `addr show dev <dev>` (netlink dumps, ~0.5 ms each), so one tick is a near-simultaneous view of
 * every host. One JSON line per tick: {t, on: [hosts with the VIP], q: read ms, err?: [hosts]}.
 * A host whose read fails or takes over 200 ms is listed under `err` for that tick.
 * Exits on SIGTERM, when its parent is gone, or after `--max-seconds`.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    // host=netns,host=netns
    hosts: { type: 'string' },
    address: { type: 'string' },
    dev: { type: 'string', default: 'eth0' },
    out: { type: 'string' },
    interval: { type: 'string', default: '20' },
    'max-seconds': { type: 'string', default: '7200' },
  },
});
if (values.hosts === undefined || values.address === undefined || values.out === undefined) {
  throw new Error('failed to start the sampler: --hosts, --address and --out are required');
}
const address = values.address;
const dev = values.dev;
const intervalMs = Number(values.interval);
const READ_TIMEOUT_MS = 200;
const now = () => performance.timeOrigin + performance.now();
const out = createWriteStream(values.out, { flags: 'a' });

/** One persistent `ip -batch` per host: a line in, one JSON line out (ip flushes per command). */
class IpReader {
  private proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private waiting: ((line: string | null) => void) | null = null;

  constructor(readonly host: string, readonly netns: string) {
    this.proc = this.start();
  }

  private start(): ChildProcessWithoutNullStreams {
    const p = spawn('ip', ['-j', '-force', '-n', this.netns, '-batch', '-']);
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      this.buf += chunk;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting;
        this.waiting = null;
        w?.(line);
      }
    });
    p.stderr.resume();
    p.on('error', () => {});
    return p;
  }

  /** Does the host have the address? null when unknown (read failed or too slow). */
  read(): Promise<boolean | null> {
    if (this.proc.exitCode !== null || this.proc.killed) this.proc = this.start();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        // A stuck reader is replaced, so one bad tick does not poison the next.
        this.proc.kill('SIGKILL');
        resolve(null);
      }, READ_TIMEOUT_MS);
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line === null ? null : has(line));
      };
      this.proc.stdin.write(`addr show dev ${dev}\n`);
    });
  }

  close(): void {
    this.proc.stdin.end();
    this.proc.kill('SIGTERM');
  }
}

function has(line: string): boolean | null {
  try {
    const links = JSON.parse(line) as Array<{ addr_info?: Array<{ family?: string; local?: string }> }>;
    return links.some((l) => (l.addr_info ?? []).some((a) => a.family === 'inet' && a.local === address));
  } catch {
    return null;
  }
}

const readers = values.hosts.split(',').map((pair) => {
  const [host, netns] = pair.split('=');
  if (!host || !netns) throw new Error(`failed to start the sampler: bad --hosts item ${pair}`);
  return new IpReader(host, netns);
});

let stopping = false;
const started = now();
const deadline = started + Number(values['max-seconds']) * 1000;
let tick = 0;

async function loop(): Promise<void> {
  while (!stopping && now() < deadline) {
    const t = now();
    const results = await Promise.all(readers.map((r) => r.read()));
    const q = now() - t;
    const on = readers.filter((_, i) => results[i] === true).map((r) => r.host);
    const err = readers.filter((_, i) => results[i] === null).map((r) => r.host);
    out.write(`${JSON.stringify(err.length > 0 ? { t, on, q: round(q), err } : { t, on, q: round(q) })}\n`);
    // Fixed grid; a slow tick skips ahead rather than bunching up.
    tick = Math.max(tick + 1, Math.floor((now() - started) / intervalMs) + 1);
    const wait = started + tick * intervalMs - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  for (const r of readers) r.close();
  out.end(() => process.exit(0));
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

process.on('SIGTERM', () => {
  stopping = true;
});
process.on('SIGINT', () => {
  stopping = true;
});
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    stopping = true;
  }
}, 1000).unref();
void loop();
