/**
 * Enrolled host identities for the fan-in benchmark, cached under `.bench-out/identities/n<N>/`:
 * the controller data dir they were enrolled into (CA, server certificate, SQLite with N hosts) and
 * `identities.jsonl` (one {name, hostId, keyPem, certPem} per line). Enrolment goes through the real
 * POST /v1/join with bounded concurrency; `manifest.json` is written last, so a cache without it is
 * incomplete and enrolled again from scratch.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateKeyAndCsr } from '../../shared/src/pki.js';
import { startController } from './controller.js';
import { stringField } from './http.js';
import { ROOT, stopChild } from './proc.js';

/** One enrolled simulated host. */
export interface Identity {
  name: string;
  hostId: string;
  keyPem: string;
  certPem: string;
}

/** A usable identity cache. */
export interface IdentityCache {
  count: number;
  dir: string;
  /** Controller data dir to copy for each run. */
  controllerDir: string;
  identitiesPath: string;
  /** True when enrolment was skipped. */
  cached: boolean;
  /** Wall time enrolment took (now, or when the cache was made). */
  enrolSeconds: number;
  enrolPerSecond: number;
}

interface Manifest {
  count: number;
  createdAt: string;
  enrolSeconds: number;
}

/** Where the caches live. */
export const BENCH_OUT = join(ROOT, '.bench-out');

/** Simulated host name for index i (valid per HOST_NAME_PATTERN). */
export function simName(i: number): string {
  return `sim-${String(i).padStart(5, '0')}`;
}

/** Returns the cache for `count` hosts, enrolling them first if it is missing or incomplete. */
export async function ensureIdentities(count: number, opts: { concurrency: number; deadline: number }): Promise<IdentityCache> {
  const dir = join(BENCH_OUT, 'identities', `n${count}`);
  const controllerDir = join(dir, 'controller');
  const identitiesPath = join(dir, 'identities.jsonl');
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath) && existsSync(identitiesPath) && existsSync(controllerDir)) {
    const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    if (m.count === count) {
      process.stderr.write(`identities: using cached ${count} hosts in ${dir}\n`);
      return { count, dir, controllerDir, identitiesPath, cached: true, enrolSeconds: m.enrolSeconds, enrolPerSecond: Math.round(count / m.enrolSeconds) };
    }
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const seconds = await enrolAll({ count, controllerDir, identitiesPath, ...opts });
  const manifest: Manifest = { count, createdAt: new Date().toISOString(), enrolSeconds: Math.round(seconds * 10) / 10 };
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { count, dir, controllerDir, identitiesPath, cached: false, enrolSeconds: manifest.enrolSeconds, enrolPerSecond: Math.round(count / seconds) };
}

async function enrolAll(o: { count: number; controllerDir: string; identitiesPath: string; concurrency: number; deadline: number }): Promise<number> {
  process.stderr.write(`identities: enrolling ${o.count} hosts through POST /v1/join (concurrency ${o.concurrency})\n`);
  const controller = await startController({ dataDir: o.controllerDir, name: 'enrol-controller' });
  const tmpPath = `${o.identitiesPath}.tmp`;
  const out = createWriteStream(tmpPath);
  const started = performance.now();
  try {
    const created = await controller.api.json('POST', '/v1/tokens', {
      ttlSeconds: 24 * 3600,
      uses: o.count,
      description: `fan-in benchmark, ${o.count} hosts`,
    });
    const token = stringField(created, 'token');
    let next = 0;
    let done = 0;
    let lastReport = performance.now();
    const enrolOne = async (i: number) => {
      const name = simName(i);
      const { keyPem, csrPem } = await generateKeyAndCsr(name);
      const answer = await controller.api.json('POST', '/v1/join', { token, name, csr: csrPem });
      const identity: Identity = { name, hostId: stringField(answer, 'hostId'), keyPem, certPem: stringField(answer, 'certificate') };
      if (!out.write(`${JSON.stringify(identity)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    };
    const lane = async () => {
      while (next < o.count) {
        if (Date.now() > o.deadline) throw new Error(`enrolment ran out of time after ${done}/${o.count} hosts`);
        const i = next;
        next += 1;
        await enrolOne(i);
        done += 1;
        const now = performance.now();
        if (now - lastReport > 2000 || done === o.count) {
          lastReport = now;
          const rate = done / ((now - started) / 1000);
          process.stderr.write(`identities: enrolled ${done}/${o.count} (${rate.toFixed(0)}/s, eta ${((o.count - done) / rate).toFixed(0)} s)\n`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, lane));
    await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
    await rename(tmpPath, o.identitiesPath);
    return (performance.now() - started) / 1000;
  } finally {
    out.destroy();
    controller.api.close();
    // A clean shutdown checkpoints the WAL, so the copied data dir is self-contained.
    await stopChild(controller.child, 30_000);
  }
}

/** Reads identities [start, end) from a cache's jsonl file. */
export async function readIdentities(path: string, start: number, end: number): Promise<Identity[]> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  const out: Identity[] = [];
  for (let i = start; i < end && i < lines.length; i++) {
    const line = lines[i];
    if (line !== undefined && line !== '') out.push(JSON.parse(line) as Identity);
  }
  return out;
}
