/**
 * The client probe: a standalone program started in the client namespace
 * (`ip netns exec bl-client node probe.js …`). Every `--interval` ms it starts a real HTTPS GET of
 * `--url` (etcd's /health behind the VIP) with a client certificate, a fresh TCP connection each time
 * (TLS sessions are resumed to keep the servers' CPU low) and a `--timeout` deadline; requests may
 * overlap, so an outage is resolved to one interval. One JSON line per request: {t, d, ok, e?}.
 * Exits on SIGTERM, when its parent is gone, or after `--max-seconds`.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    out: { type: 'string' },
    interval: { type: 'string', default: '20' },
    timeout: { type: 'string', default: '100' },
    'max-seconds': { type: 'string', default: '7200' },
    'max-in-flight': { type: 'string', default: '8' },
  },
});
for (const k of ['url', 'ca', 'cert', 'key', 'out'] as const) {
  if (values[k] === undefined) throw new Error(`failed to start the probe: --${k} is required`);
}
const url = new URL(values.url!);
const intervalMs = Number(values.interval);
const timeoutMs = Number(values.timeout);
const maxInFlight = Number(values['max-in-flight']);
const now = () => performance.timeOrigin + performance.now();
const out = createWriteStream(values.out!, { flags: 'a' });
// keepAlive off: every probe is a new connection, as a new client would make after a failover.
const agent = new Agent({ keepAlive: false, maxCachedSessions: 16 });
const tls = { ca: readFileSync(values.ca!), cert: readFileSync(values.cert!), key: readFileSync(values.key!) };

let inFlight = 0;
let stopping = false;

function probeOnce(): void {
  if (inFlight >= maxInFlight) {
    out.write(`${JSON.stringify({ t: now(), d: 0, ok: false, e: 'SKIPPED' })}\n`);
    return;
  }
  inFlight++;
  const t = now();
  let done = false;
  const finish = (ok: boolean, e?: string) => {
    if (done) return;
    done = true;
    inFlight--;
    out.write(`${JSON.stringify(ok ? { t, d: round(now() - t), ok } : { t, d: round(now() - t), ok, e })}\n`);
  };
  const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', agent, ...tls, timeout: timeoutMs }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      body += c;
    });
    res.on('end', () => finish(res.statusCode === 200 && body.includes('"health":"true"'), `HTTP${res.statusCode}`));
    res.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? 'ERES'));
  });
  // A hard deadline for the whole request (the socket timeout only covers idleness).
  const timer = setTimeout(() => {
    finish(false, 'TIMEOUT');
    req.destroy();
  }, timeoutMs);
  req.on('close', () => clearTimeout(timer));
  req.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? 'EREQ'));
  req.end();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

// Scheduled on a fixed grid (not setInterval), so a busy moment does not shift every later probe.
const started = now();
const deadline = started + Number(values['max-seconds']) * 1000;
let tick = 0;
function schedule(): void {
  if (stopping) return;
  if (now() > deadline) {
    stop();
    return;
  }
  probeOnce();
  tick = Math.max(tick + 1, Math.floor((now() - started) / intervalMs));
  setTimeout(schedule, Math.max(0, started + tick * intervalMs - now()));
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  // Let requests in flight finish (bounded by their timeout), then close the file.
  setTimeout(() => out.end(() => process.exit(0)), timeoutMs + 50);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    stop(); // the test process is gone: nobody will read the trace
  }
}, 1000).unref();
schedule();
