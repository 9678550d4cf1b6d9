/**
 * Starts and stops the two tracing programs (probe.ts in the client namespace, sampler.ts in the
 * root namespace) and reads their traces. Under vitest the programs are TypeScript, so they are
 * bundled once with esbuild (already in node_modules through vitest); from dist/ (the bench) the
 * compiled siblings are run as they are.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../tool/controller.js';
import { run, sleep } from '../tool/exec.js';
import { type ProbeRecord, parseJsonLines, type SampleRecord } from './analysis.js';

/**
 * A runnable JS file for program `name` (probe or sampler), bundled from its TypeScript source with
 * esbuild (in node_modules through vitest). Always from the source, so vitest and the compiled bench
 * (dist/, where nothing imports these programs) run the same thing.
 */
export async function programFile(name: 'probe' | 'sampler', workDir: string): Promise<string> {
  const out = join(workDir, `${name}.mjs`);
  const source = join(REPO_ROOT, 'test/lab/vip', `${name}.ts`);
  await run([join(REPO_ROOT, 'node_modules/.bin/esbuild'), source, '--bundle', '--platform=node', '--format=esm', `--outfile=${out}`, '--log-level=warning'], {
    timeoutMs: 60_000,
  });
  return out;
}

/** What the tracers need to know. */
export interface TracerOptions {
  workDir: string;
  clientNetns: string;
  /** host name → its network namespace */
  hosts: Array<{ name: string; netns: string }>;
  vip: string;
  port: number;
  /** Client TLS files on this machine (the probe runs here, in the client namespace). */
  tls: { ca: string; cert: string; key: string };
  intervalMs?: number;
  timeoutMs?: number;
  maxSeconds: number;
}

/** The running tracers; `stop()` ends both (by their PIDs) and waits for them to flush. */
export interface Tracers {
  probeFile: string;
  sampleFile: string;
  probes(): ProbeRecord[];
  samples(): SampleRecord[];
  /** Probe records that started at or after `since`, from the file's tail (cheap, for polling). */
  recentProbes(since: number): ProbeRecord[];
  stop(): Promise<void>;
}

export async function startTracers(options: TracerOptions): Promise<Tracers> {
  const [probeJs, samplerJs] = await Promise.all([programFile('probe', options.workDir), programFile('sampler', options.workDir)]);
  const probeFile = join(options.workDir, 'probe.jsonl');
  const sampleFile = join(options.workDir, 'samples.jsonl');
  const interval = String(options.intervalMs ?? 20);
  const spawnLogged = (argv: string[], log: string): ChildProcess => {
    const fd = openSync(join(options.workDir, log), 'a');
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    return child;
  };
  const probe = spawnLogged(
    [
      'ip', 'netns', 'exec', options.clientNetns, process.execPath, probeJs,
      '--url', `https://${options.vip}:${options.port}/health`,
      '--ca', options.tls.ca, '--cert', options.tls.cert, '--key', options.tls.key,
      '--out', probeFile, '--interval', interval, '--timeout', String(options.timeoutMs ?? 100),
      '--max-seconds', String(options.maxSeconds),
    ],
    'probe.log',
  );
  const sampler = spawnLogged(
    [
      process.execPath, samplerJs,
      '--hosts', options.hosts.map((h) => `${h.name}=${h.netns}`).join(','),
      '--address', options.vip, '--out', sampleFile, '--interval', interval,
      '--max-seconds', String(options.maxSeconds),
    ],
    'sampler.log',
  );
  const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
  const read = <T>(file: string): T[] => (existsSync(file) ? parseJsonLines<T>(readFileSync(file, 'utf8')) : []);
  // Both must be writing before anything is measured.
  for (let i = 0; i < 100 && (read(probeFile).length === 0 || read(sampleFile).length === 0); i++) {
    if (probe.exitCode !== null || sampler.exitCode !== null) break;
    await sleep(100);
  }
  if (read(probeFile).length === 0 || read(sampleFile).length === 0) {
    for (const c of [probe, sampler]) c.kill('SIGKILL');
    const logs = ['probe.log', 'sampler.log'].map((f) => readFileSync(join(options.workDir, f), 'utf8').trim()).join('\n');
    throw new Error(`failed to start the VIP tracers: no trace after 10 s\n${logs}`);
  }
  return {
    probeFile,
    sampleFile,
    probes: () => read<ProbeRecord>(probeFile),
    samples: () => read<SampleRecord>(sampleFile),
    recentProbes: (since) => tail<ProbeRecord>(probeFile, 64 * 1024).filter((p) => p.t >= since),
    async stop() {
      for (const c of [probe, sampler]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      const done = Promise.all([exited(probe), exited(sampler)]);
      if ((await Promise.race([done.then(() => 'ok'), sleep(3000).then(() => 'late')])) === 'late') {
        for (const c of [probe, sampler]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
        await done;
      }
    },
  };
}

/** The complete JSON lines among the last `bytes` of a file. */
function tail<T>(file: string, bytes: number): T[] {
  if (!existsSync(file)) return [];
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return parseJsonLines<T>(text);
  } finally {
    closeSync(fd);
  }
}
