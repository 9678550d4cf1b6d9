/**
 * The Redfish fence agent: `ComputerSystem.Reset` with `ForceOff` through the BMC, then the
 * ComputerSystem's `PowerState` polled until `Off` — each request at most 20 s, the whole fence at
 * most 60 s ({@link REDFISH_LIMITS}), then BALLAST_ERR_FENCE_FAILED with the last answer (the
 * operation pauses with it). Proven against sushy-tools' emulator (test/integration/fence-redfish.test.ts).
 *
 * What a real Redfish service needs, and sushy-tools showed:
 * - `system` may be the ComputerSystem's URL (`https://bmc/redfish/v1/Systems/1`) or the BMC alone
 *   (`https://bmc`, `https://bmc/redfish/v1`): then the service root's `Systems` collection is read
 *   and must hold exactly one system (a BMC of a multi-node chassis needs the full URL).
 * - The reset goes to the action's `target` as the system resource names it (not a guessed path),
 *   and only if `ResetType@Redfish.AllowableValues` (when given) offers `ForceOff`.
 * - 200, 202 (a task was started) and 204 accept the reset; 409 (already off, or a transition in
 *   progress, on many BMCs) is not an error: the poll decides. Any other refusal is retried until
 *   the deadline, since BMCs refuse while busy; wrong credentials, an untrusted certificate, a
 *   missing system or a reset type the BMC lacks stop at once (retrying cannot fix configuration).
 * - A system already `Off` is fenced without a reset.
 */
import { type Static, Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { FenceOutcome } from './fence.js';
import { BmcError, type BmcEndpoint, bmcRequest, fmtMs, redfishErrorText } from './redfish-http.js';
import { abortableSleep } from '../../../shared/src/abortable-sleep.js';

/** The issue's limits: one request at most 20 s, the whole fence at most 60 s; a poll every second. */
export const REDFISH_LIMITS = { tryMs: 20_000, totalMs: 60_000, pollMs: 1000 } as const;

/** Options of {@link redfishForceOff}. */
export interface RedfishOptions extends BmcEndpoint {
  /** The host being fenced (for messages). */
  host: string;
  /** The ComputerSystem's URL, or the BMC's (see the file comment). */
  system: string;
  signal: AbortSignal;
  progress?: (m: string) => void;
  /** Overrides of {@link REDFISH_LIMITS}, for tests. */
  tryMs?: number;
  totalMs?: number;
  pollMs?: number;
}

const Link = Type.Object({ '@odata.id': Type.String({ maxLength: 1000 }) });
const ServiceRootSchema = Type.Object({ Systems: Link });
const CollectionSchema = Type.Object({ Members: Type.Array(Link, { maxItems: 10_000 }) });
/** The part of a ComputerSystem the fence reads; the rest is the BMC's business. */
const SystemSchema = Type.Object({
  PowerState: Type.Optional(Type.Union([Type.String({ maxLength: 50 }), Type.Null()])),
  Actions: Type.Optional(
    Type.Object({
      '#ComputerSystem.Reset': Type.Optional(
        Type.Object({
          target: Type.String({ maxLength: 1000 }),
          'ResetType@Redfish.AllowableValues': Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 })),
        }),
      ),
    }),
  ),
});
type RedfishSystem = Static<typeof SystemSchema>;

/** See the file comment. */
export async function redfishForceOff(o: RedfishOptions): Promise<FenceOutcome> {
  const tryMs = o.tryMs ?? REDFISH_LIMITS.tryMs;
  const total = o.totalMs ?? REDFISH_LIMITS.totalMs;
  const pollMs = o.pollMs ?? REDFISH_LIMITS.pollMs;
  const deadline = Date.now() + total;
  const bmc = URL.canParse(o.system) ? new URL(o.system).origin : o.system;
  const fail = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_FENCE_FAILED', `failed to fence ${o.host} through its BMC ${bmc} (Redfish, user ${o.username}): ${why}; the host may still be running, nothing was removed`, cause === undefined ? {} : { cause });
  /** One request, bounded by the per-try limit and what is left of the total. */
  const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    bmcRequest(o, { method, url, body, signal: o.signal, timeoutMs: Math.max(1, Math.min(tryMs, deadline - Date.now())) });
  const get = async <T>(url: string, check: (v: unknown) => v is T, what: string): Promise<{ value: T; url: string }> => {
    const r = await call('GET', url);
    if (r.status === 401 || r.status === 403) throw new BmcError(`the BMC refused the credentials (GET ${r.url} answered ${r.status}: ${redfishErrorText(r.body)})`, true);
    if (r.status === 404) throw new BmcError(`GET ${r.url} answered 404: no such ${what} (check the configured URL)`, true);
    if (r.status !== 200) throw new BmcError(`GET ${r.url} answered ${r.status}: ${redfishErrorText(r.body)}`, false);
    let value: unknown;
    try {
      value = JSON.parse(r.body);
    } catch (err) {
      throw new BmcError(`GET ${r.url}: the answer is not JSON (${messageOf(err)})`, false);
    }
    if (!check(value)) throw new BmcError(`GET ${r.url}: the answer is not a Redfish ${what}`, false);
    return { value, url: r.url };
  };
  const getSystem = (url: string) => get(url, (v): v is RedfishSystem => compiledCheck(SystemSchema).Check(v), 'ComputerSystem');

  let systemUrl: string | null = null;
  let resetSent = false;
  let last = 'no answer yet';
  let refusal: string | null = null;
  while (Date.now() < deadline) {
    if (o.signal.aborted) throw o.signal.reason;
    try {
      systemUrl ??= await findSystem(o.system, get);
      const { value: sys, url } = await getSystem(systemUrl);
      systemUrl = url; // a redirect (a system addressed by name) is followed once, then used directly
      if (sys.PowerState === 'Off') {
        const how = resetSent ? 'ForceOff, then PowerState Off' : 'PowerState already Off, no reset needed';
        return { method: 'redfish', message: `${o.host} powered off through Redfish (${url}: ${how})` };
      }
      // Until a reset is accepted, its last refusal stays in the reason: it says why the host is still on.
      last = `PowerState ${String(sys.PowerState)}${refusal === null || resetSent ? '' : `; ${refusal}`}`;
      if (!resetSent) {
        const action = sys.Actions?.['#ComputerSystem.Reset'];
        if (action === undefined) throw new BmcError(`${url} offers no ComputerSystem.Reset action`, true);
        const allowed = action['ResetType@Redfish.AllowableValues'];
        if (allowed !== undefined && !allowed.includes('ForceOff')) throw new BmcError(`${url} does not offer ResetType ForceOff (it offers ${allowed.join(', ') || 'nothing'})`, true);
        const target = new URL(action.target, url).href;
        const r = await call('POST', target, { ResetType: 'ForceOff' });
        if (r.status === 401 || r.status === 403) throw new BmcError(`the BMC refused the credentials (POST ${r.url} answered ${r.status}: ${redfishErrorText(r.body)})`, true);
        if ([200, 202, 204, 409].includes(r.status)) {
          resetSent = true;
          last = r.status === 409 ? `ForceOff answered 409 (${redfishErrorText(r.body)}), then ${last}` : `ForceOff accepted (${r.status}), ${last}`;
        } else {
          refusal = `ForceOff refused: POST ${r.url} answered ${r.status}: ${redfishErrorText(r.body)}`;
          last = `PowerState ${String(sys.PowerState)}; ${refusal}`;
        }
      }
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason; // the operation is stopping: its reason, not a fence failure
      if (!(err instanceof BmcError) || err.permanent) throw fail(messageOf(err), err);
      // A last try cut short by the total deadline says less than the answer before it: keep that one.
      const cutByTotal = err.timedOut && deadline - Date.now() < 50 && last !== 'no answer yet';
      if (!cutByTotal) last = err.message;
    }
    o.progress?.(`fencing ${o.host}: ${last}`);
    await abortableSleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), o.signal);
  }
  throw fail(`not confirmed Off within ${fmtMs(total)} (last: ${last})`);
}

type Getter = <T>(url: string, check: (v: unknown) => v is T, what: string) => Promise<{ value: T; url: string }>;

/** The ComputerSystem's URL: the configured one, or the only member of the service root's Systems. */
async function findSystem(configured: string, get: Getter): Promise<string> {
  const u = new URL(configured);
  const path = u.pathname.replace(/\/+$/, '');
  if (path !== '' && path !== '/redfish/v1' && path !== '/redfish') return u.href.replace(/\/+$/, '');
  const root = await get(`${u.origin}/redfish/v1/`, (v): v is Static<typeof ServiceRootSchema> => compiledCheck(ServiceRootSchema).Check(v), 'service root');
  const collectionUrl = new URL(root.value.Systems['@odata.id'], root.url).href;
  const list = await get(collectionUrl, (v): v is Static<typeof CollectionSchema> => compiledCheck(CollectionSchema).Check(v), 'Systems collection');
  const members = list.value.Members.map((m) => new URL(m['@odata.id'], list.url).href);
  if (members.length !== 1) {
    const named = members.slice(0, 5).join(', ') + (members.length > 5 ? ', …' : '');
    throw new BmcError(`${collectionUrl} lists ${members.length} systems${members.length === 0 ? '' : ` (${named})`}; configure the ComputerSystem's URL as 'system'`, true);
  }
  return members[0] as string;
}
