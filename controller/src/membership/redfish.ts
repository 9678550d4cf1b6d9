/**
 * The Redfish fence agent: `ForceOff` through the BMC, then PowerState polled until `Off` — each
 * request at most 20 s, the whole fence at most 60 s, then BALLAST_ERR_FENCE_FAILED (the
 * operation pauses with the reason). A 409 to the reset (already off, on many BMCs) is not an
 * error: the poll decides. DMTF's Redfish-Mockup-Server and sushy-tools speak the same API.
 */
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { FenceOutcome } from './fence.js';

const TRY_MS = 20_000;
const TOTAL_MS = 60_000;
const POLL_MS = 1000;

/** Options of {@link redfishForceOff}. */
export interface RedfishOptions {
  host: string;
  system: string;
  username: string;
  password: string;
  ca?: string;
  signal: AbortSignal;
  progress?: (m: string) => void;
  /** Overrides for tests. */
  totalMs?: number;
  pollMs?: number;
}

/** See the file comment. */
export async function redfishForceOff(o: RedfishOptions): Promise<FenceOutcome> {
  const total = o.totalMs ?? TOTAL_MS;
  const deadline = Date.now() + total;
  const fail = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_FENCE_FAILED', `failed to fence ${o.host} through Redfish at ${o.system}: ${why}; nothing was removed`, cause === undefined ? {} : { cause });
  const base = o.system.replace(/\/+$/, '');
  let last = 'not asked yet';
  let resetSent = false;
  while (Date.now() < deadline) {
    if (o.signal.aborted) throw o.signal.reason;
    try {
      if (!resetSent) {
        const r = await call(o, 'POST', `${base}/Actions/ComputerSystem.Reset`, { ResetType: 'ForceOff' });
        if (r.status >= 400 && r.status !== 409) throw new Error(`reset answered ${r.status}: ${r.body.slice(0, 200)}`);
        resetSent = true;
      }
      const s = await call(o, 'GET', base);
      if (s.status !== 200) throw new Error(`GET answered ${s.status}`);
      const power = (JSON.parse(s.body) as { PowerState?: unknown }).PowerState;
      if (power === 'Off') return { method: 'redfish', message: `${o.host} powered off through Redfish (${base}: PowerState Off)` };
      last = `PowerState ${String(power)}`;
    } catch (err) {
      last = messageOf(err);
    }
    o.progress?.(`fencing ${o.host}: ${last}`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? POLL_MS));
  }
  throw fail(`not confirmed Off within ${Math.round(total / 1000)} s (last: ${last})`);
}

function call(o: RedfishOptions, method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const auth = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
  const headers = { authorization: auth, accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json' }) };
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(TRY_MS)]);
  const fn = url.startsWith('https:') ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(url, { method, headers, signal, ...(o.ca === undefined ? {} : { ca: o.ca }) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        if (text.length < 1024 * 1024) text += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
