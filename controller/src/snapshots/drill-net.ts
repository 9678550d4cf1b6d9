/**
 * Loopback plumbing of the restore drill: ephemeral ports, waiting for a throwaway server, and one
 * etcd range read over etcd's JSON gateway (plain HTTP on 127.0.0.1: the drill's etcd is private).
 */
import { createServer } from 'node:net';
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200; fails early when the process behind it has exited. */
export async function waitHttpOk(url: string, timeoutMs: number, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited()) throw new BallastError('BALLAST_ERR_DRILL_FAILED', `the throwaway process behind ${url} exited: ${output().slice(-1500)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = messageOf(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new BallastError('BALLAST_ERR_DRILL_FAILED', `${url} did not answer 200 within ${timeoutMs} ms (${last}): ${output().slice(-1500)}`);
}

const RangeSchema = Type.Object({
  header: Type.Object({ revision: Type.Optional(Type.String({ maxLength: 20 })) }),
  count: Type.Optional(Type.String({ maxLength: 20 })),
  kvs: Type.Optional(Type.Array(Type.Object({ value: Type.Optional(Type.String()) }), { maxItems: 1 })),
});

/** Reads one key: how many matched, its value's size and the store revision. */
export async function etcdRange(clientUrl: string, key: string): Promise<{ count: number; valueBytes: number; revision: string }> {
  const res = await fetch(`${clientUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(key).toString('base64'), limit: 1 }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to read ${key} from the throwaway etcd: HTTP ${res.status}: ${text.slice(0, 500)}`);
  const body: unknown = JSON.parse(text);
  if (!compiledCheck(RangeSchema).Check(body)) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to read ${key} from the throwaway etcd: unexpected answer`);
  const value = body.kvs?.[0]?.value ?? '';
  return { count: Number(body.count ?? '0'), valueBytes: Buffer.from(value, 'base64').length, revision: body.header.revision ?? '0' };
}
