/**
 * Seeded generators of hostile websocket frames: random bytes, broken JSON, wrong shapes, mutated
 * valid messages, deep nesting and oversized frames. Deterministic for a seed, so a failing run can
 * be replayed with the seed it printed.
 */

import { prng } from '../support/prng.js';

const TEMPLATES: Array<Record<string, unknown>> = [
  { type: 'hello', protocol: 1, agentVersion: '0.1.0', sessionId: 'fuzz' },
  { type: 'hb', seq: 1, ts: 1 },
  { type: 'health', health: { ts: 1, load: [0, 0, 0], memory: { totalBytes: 1, availableBytes: 1 }, disks: [], clockOffsetMs: null, checks: [{ name: 'x', ok: true, message: '' }] } },
  { type: 'facts', facts: { hostname: 'h', os: {}, cpu: {}, memory: {}, disks: [], nics: [], productUuid: '', bootId: '' } },
  { type: 'res', id: 'c-1', ok: true, result: {} },
  { type: 'error', code: 'BALLAST_ERR_INTERNAL', message: 'x' },
];

/** One frame to send: text or binary. */
export type FuzzFrame = { text: string } | { binary: Buffer };

/** Builds the frame generator for a seed. `maxBytes` is the protocol's soft frame limit. */
export function frameGenerator(seed: number, maxBytes: number): () => FuzzFrame {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const randomString = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rnd() * 0x2fff))).join('');
  const randomValue = (depth = 0): unknown => {
    const k = Math.floor(rnd() * (depth > 3 ? 6 : 8));
    switch (k) {
      case 0:
        return null;
      case 1:
        return rnd() < 0.5 ? Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1) : rnd() * 1e308;
      case 2:
        return randomString(Math.floor(rnd() * 40));
      case 3:
        return rnd() < 0.5;
      case 4:
        return 'x'.repeat(Math.floor(rnd() * 5000));
      case 5:
        return pick(['hb', 'hello', 'res', '__proto__', 'constructor', '', 'NaN']);
      case 6:
        return Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [randomString(4), randomValue(depth + 1)]));
    }
  };
  const mutate = (template: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = structuredClone(template);
    const keys = Object.keys(out);
    const op = Math.floor(rnd() * 4);
    if (op === 0 && keys.length > 0) delete out[pick(keys)];
    else if (op === 1 && keys.length > 0) out[pick(keys)] = randomValue();
    else if (op === 2) out[randomString(6)] = randomValue();
    else out.type = randomValue();
    return out;
  };
  return () => {
    const kind = Math.floor(rnd() * 100);
    if (kind < 10) return { binary: Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))) };
    if (kind < 20) return { text: randomString(Math.floor(rnd() * 300)) };
    if (kind < 30) return { text: JSON.stringify(randomValue()) };
    if (kind < 40) {
      const s = JSON.stringify(mutate(pick(TEMPLATES)));
      return { text: s.slice(0, Math.floor(rnd() * s.length)) };
    }
    if (kind < 42) return { text: `${'['.repeat(50_000)}${']'.repeat(50_000)}` };
    if (kind < 43) return { text: JSON.stringify({ type: 'hb', seq: 1, ts: 1, pad: 'p'.repeat(maxBytes + 1024) }) };
    if (kind < 50) return { text: JSON.stringify(pick(TEMPLATES)) };
    return { text: JSON.stringify(mutate(pick(TEMPLATES))) };
  };
}
