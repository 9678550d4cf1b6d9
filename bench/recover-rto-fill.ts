/**
 * The fill of bench/recover-rto.ts: puts `--mb` MB of random `--value-kib` KiB values under
 * `--prefix` into a lab cluster's etcd, straight to the members' client URLs over mutual TLS with
 * the member's health-check client certificate (etcd's JSON gateway: one HTTPS request per put, no
 * process per key). Run inside the lab's client network namespace (the lab hosts are not routed
 * from the root namespace): `ip netns exec NS node dist/bench/recover-rto-fill.js …`. Values are
 * random (incompressible), so the database grows by about what is written. JSON on stdout.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEtcdClient } from '../shared/src/etcd/client.js';
import { benchArgs, usageError } from './lib/args.js';

const USAGE = `usage: node dist/bench/recover-rto-fill.js --endpoints URL[,URL…] --pki DIR [--mb 1024] [--value-kib 100] [--concurrency 8] [--prefix /bench/rto/]

Puts --mb MB of random values into etcd (DIR holds ca.crt, healthcheck-client.crt and .key).`;

const { values } = benchArgs(USAGE, {
  options: {
    endpoints: { type: 'string' },
    pki: { type: 'string' },
    mb: { type: 'string', default: '1024' },
    'value-kib': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    prefix: { type: 'string', default: '/bench/rto/' },
  },
});

/** Bounds: a fill is at most 4 GiB (etcd's quota here is 2 GiB) of values at most 1 MiB (etcd's request limit is 1.5 MiB). */
function numberArg(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) usageError(`--${name} must be an integer in ${min}..${max}, got ${raw}`);
  return n;
}

async function main(): Promise<void> {
  if (values.endpoints === undefined || values.pki === undefined) usageError('--endpoints and --pki are required');
  const mb = numberArg('mb', values.mb, 1, 4096);
  const valueKib = numberArg('value-kib', values['value-kib'], 1, 1024);
  const concurrency = numberArg('concurrency', values.concurrency, 1, 64);
  const tls = {
    ca: readFileSync(join(values.pki, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(values.pki, 'healthcheck-client.crt'), 'utf8'),
    key: readFileSync(join(values.pki, 'healthcheck-client.key'), 'utf8'),
  };
  // One client per member, round-robin: the followers forward to the leader, as a kube-apiserver's writes do.
  const clients = values.endpoints.split(',').map((e) => createEtcdClient({ endpoints: [e], tls, timeoutMs: 30_000 }));
  const count = Math.ceil((mb * 1024 * 1024) / (valueKib * 1024));
  const prefix = values.prefix ?? '/bench/rto/';
  const t0 = performance.now();
  let next = 0;
  let retries = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const key = Buffer.from(`${prefix}${String(i).padStart(6, '0')}`).toString('base64');
      const value = randomBytes(valueKib * 1024).toString('base64');
      for (let attempt = 1; ; attempt++) {
        const client = clients[(i + attempt) % clients.length];
        if (client === undefined) throw new Error('no endpoint');
        try {
          await client.post('/v3/kv/put', { key, value });
          break;
        } catch (err) {
          // A put of the same key and value is safe to repeat; a few transient refusals are fine, more are not.
          if (attempt >= 5) throw err;
          retries++;
        }
      }
      if (i > 0 && i % 1000 === 0) process.stderr.write(`fill: ${i}/${count} keys, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(`${JSON.stringify({ keys: count, valueBytes: valueKib * 1024, bytes: count * valueKib * 1024, ms: Math.round(performance.now() - t0), retries })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`recover-rto fill failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
