/**
 * The `redfish` fence agent against a Redfish service that is not ours: sushy-tools' emulator
 * (OpenStack, PyPI) with its fake driver, on loopback ports, started and ended by PID here. One
 * emulator is a realistic BMC (HTTPS with a certificate from a CA of ours, Basic auth, three
 * systems); the other refuses every power-off (sushy-tools' SUSHY_EMULATOR_DISABLE_POWER_OFF) and is
 * the BMC whose host never reaches Off, and the one a test freezes (SIGSTOP) to be a BMC that
 * accepts connections but never answers. The last test runs the real membership engine with
 * fencing.yaml's redfish agent: a replacement fenced by the emulator, and one paused with the reason
 * and resumed once the password is fixed. Skipped, saying why, when sushy-tools is not installed
 * (scripts/install-lab-deps.sh installs it).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationDocument } from '../../shared/src/ops-api.js';
import { createFencePort, loadFencingConfig } from '../../controller/src/membership/fence.js';
import { REDFISH_LIMITS, redfishForceOff } from '../../controller/src/membership/redfish.js';
import { bmcRequest } from '../../controller/src/membership/redfish-http.js';
import { membershipFixture } from '../../controller/src/membership/testing.js';
import { createCa, issueServerCert, type KeyPair } from '../../controller/src/pki/ca.js';
import { freePort } from './harness.js';
import { startSushy, SUSHY_EMULATOR, type Sushy } from './sushy-support.js';

const skip = SUSHY_EMULATOR === '' ? "sushy-tools' emulator is not installed (scripts/install-lab-deps.sh, or pip install sushy-tools and put sushy-emulator on PATH)" : null;
if (skip !== null) console.warn(`skipping the Redfish fence tests: ${skip}`);

const USER = { username: 'ballast', password: 'bmc-secret' };
const UUID = (n: number) => `b0000000-0000-4000-8000-00000000000${n}`;
const never = () => new AbortController().signal;
/** Runs `fn`, returning what it threw and how long it took. */
async function failing(fn: () => Promise<unknown>): Promise<{ err: Error & { code?: string }; ms: number }> {
  const t0 = Date.now();
  const err = await fn().then(
    (v) => new Error(`expected a failure, got ${JSON.stringify(v)}`),
    (e: unknown) => e as Error,
  );
  return { err, ms: Date.now() - t0 };
}

describe.skipIf(skip !== null)('redfish fence agent against sushy-tools', () => {
  let dir: string;
  let ca: KeyPair;
  let bmc: Sushy; // HTTPS + Basic auth: cp-1 On, cp-2 Off, cp-3 On
  let stuck: Sushy; // HTTP, power-off refused: one system, On
  const power = async (system: string) => {
    const r = await bmcRequest({ ...USER, ca: ca.certPem }, { method: 'GET', url: `${bmc.origin}/redfish/v1/Systems/${system}`, timeoutMs: 5000, signal: never() });
    return (JSON.parse(r.body) as { PowerState: string }).PowerState;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-fence-redfish-'));
    ca = await createCa({ commonName: 'bmc-ca' });
    const cert = await issueServerCert({ ca, commonName: 'bmc', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await writeFile(join(dir, 'bmc-ca.pem'), ca.certPem);
    await writeFile(join(dir, 'bmc.pass'), `${USER.password}\n`, { mode: 0o600 });
    bmc = await startSushy({
      dir: await mkdtemp(join(dir, 'bmc-')),
      auth: USER,
      tls: cert,
      systems: [
        { uuid: UUID(1), name: 'cp-1', power_state: 'On' },
        { uuid: UUID(2), name: 'cp-2', power_state: 'Off' },
        { uuid: UUID(3), name: 'cp-3', power_state: 'On' },
      ],
    });
    stuck = await startSushy({ dir: await mkdtemp(join(dir, 'stuck-')), disablePowerOff: true, systems: [{ uuid: UUID(9), name: 'stuck', power_state: 'On' }] });
  });
  afterAll(async () => {
    await bmc?.stop();
    await stuck?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the limits are the issue's: 20 s a request, 60 s in all", () => {
    expect(REDFISH_LIMITS).toEqual({ tryMs: 20_000, totalMs: 60_000, pollMs: 1000 });
  });

  it('ForceOff over HTTPS with the BMC CA and Basic auth, then PowerState polled until Off: fenced (the system named, followed through its 307 to the UUID)', async () => {
    expect(await power(UUID(1))).toBe('On');
    const seen: string[] = [];
    const t0 = Date.now();
    const out = await redfishForceOff({ host: 'cp-1', system: `${bmc.origin}/redfish/v1/Systems/cp-1`, ...USER, ca: ca.certPem, signal: never(), pollMs: 200, progress: (m) => seen.push(m) });
    const ms = Date.now() - t0;
    expect(out).toEqual({ method: 'redfish', message: `cp-1 powered off through Redfish (${bmc.origin}/redfish/v1/Systems/${UUID(1)}: ForceOff, then PowerState Off)` });
    expect(await power(UUID(1))).toBe('Off');
    // The fake driver applies a reset 1–11 s later, like hardware: the agent saw On after accepting it.
    expect(seen[0]).toMatch(/^fencing cp-1: ForceOff accepted \(204\), PowerState On$/);
    expect(ms).toBeLessThan(REDFISH_LIMITS.totalMs);
  });

  it('a system already Off is fenced without a reset', async () => {
    const out = await redfishForceOff({ host: 'cp-2', system: `${bmc.origin}/redfish/v1/Systems/${UUID(2)}`, ...USER, ca: ca.certPem, signal: never() });
    expect(out.message).toBe(`cp-2 powered off through Redfish (${bmc.origin}/redfish/v1/Systems/${UUID(2)}: PowerState already Off, no reset needed)`);
  });

  it('wrong password or user: FENCE_FAILED at once (not after 60 s), naming the host, the BMC and the user; the system stays On', async () => {
    for (const who of [{ username: USER.username, password: 'wrong' }, { username: 'root', password: USER.password }]) {
      const { err, ms } = await failing(() => redfishForceOff({ host: 'cp-3', system: `${bmc.origin}/redfish/v1/Systems/${UUID(3)}`, ...who, ca: ca.certPem, signal: never() }));
      expect(err.code).toBe('BALLAST_ERR_FENCE_FAILED');
      expect(err.message).toBe(
        `failed to fence cp-3 through its BMC ${bmc.origin} (Redfish, user ${who.username}): the BMC refused the credentials (GET ${bmc.origin}/redfish/v1/Systems/${UUID(3)} answered 401: Incorrect username or password); the host may still be running, nothing was removed`,
      );
      expect(ms).toBeLessThan(5000);
    }
    expect(await power(UUID(3))).toBe('On');
  });

  it("TLS: a certificate not signed by the configured CA, or no CA against a BMC's private one, is refused at once", async () => {
    const other = await createCa({ commonName: 'someone-else' });
    for (const trust of [{ ca: other.certPem }, {}]) {
      const { err, ms } = await failing(() => redfishForceOff({ host: 'cp-3', system: `${bmc.origin}/redfish/v1/Systems/${UUID(3)}`, ...USER, ...trust, signal: never() }));
      expect(err.code).toBe('BALLAST_ERR_FENCE_FAILED');
      expect(err.message).toMatch(/^failed to fence cp-3 through its BMC https:\/\/127\.0\.0\.1:\d+ \(Redfish, user ballast\): GET \S+: the BMC's TLS certificate is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY): .*\); set caFile to the CA that signed it; the host may still be running, nothing was removed$/);
      expect(ms).toBeLessThan(5000);
    }
    expect(await power(UUID(3))).toBe('On');
  });

  it('a BMC that refuses the power-off: retried until the total limit, then FENCE_FAILED with its own reason; found through the service root', async () => {
    const total = 1500;
    const { err, ms } = await failing(() => redfishForceOff({ host: 'w-9', system: stuck.origin, username: 'any', password: 'any', signal: never(), pollMs: 100, totalMs: total }));
    expect(err.code).toBe('BALLAST_ERR_FENCE_FAILED');
    expect(err.message).toMatch(
      new RegExp(
        `^failed to fence w-9 through its BMC ${stuck.origin} \\(Redfish, user any\\): not confirmed Off within 1\\.5 s \\(last: PowerState On; ForceOff refused: POST ${stuck.origin}/redfish/v1/Systems/${UUID(9)}/Actions/ComputerSystem\\.Reset answered 400: Can not request power off transition\\. It is disabled via the SUSHY_EMULATOR_DISABLE_POWER_OFF`,
      ),
    );
    expect(ms).toBeGreaterThanOrEqual(total);
    expect(ms).toBeLessThan(total + 1000);
  });

  it('a BMC that accepts connections but never answers (the emulator frozen): each request ends at the per-try limit, the fence at the total', async () => {
    const pid = stuck.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const seen: string[] = [];
      const { err, ms } = await failing(() =>
        redfishForceOff({ host: 'w-9', system: `${stuck.origin}/redfish/v1/Systems/${UUID(9)}`, username: 'any', password: 'any', signal: never(), pollMs: 50, tryMs: 300, totalMs: 1400, progress: (m) => seen.push(m) }),
      );
      expect(err.message).toMatch(/: not confirmed Off within 1\.4 s \(last: GET http:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/Systems\/\S+: no answer within 300 ms\); the host may still be running/);
      expect(ms).toBeGreaterThanOrEqual(1400);
      expect(ms).toBeLessThan(2400); // the last try is cut to what is left of the total
      expect(seen.length).toBeGreaterThanOrEqual(3); // several tries of ≤ 300 ms, not one long wait
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('a BMC that is down: the connection refusal is retried until the total, then said plainly', async () => {
    const port = await freePort();
    const { err, ms } = await failing(() => redfishForceOff({ host: 'cp-3', system: `https://127.0.0.1:${port}/redfish/v1/Systems/1`, ...USER, signal: never(), pollMs: 100, totalMs: 600 }));
    expect(err.message).toBe(
      `failed to fence cp-3 through its BMC https://127.0.0.1:${port} (Redfish, user ballast): not confirmed Off within 600 ms (last: GET https://127.0.0.1:${port}/redfish/v1/Systems/1: connection refused (is the BMC up, is this its address and port?)); the host may still be running, nothing was removed`,
    );
    expect(ms).toBeLessThan(1600);
  });

  it('a missing system is a configuration error, at once', async () => {
    const { err, ms } = await failing(() => redfishForceOff({ host: 'cp-3', system: `${bmc.origin}/redfish/v1/Systems/nope`, ...USER, ca: ca.certPem, signal: never() }));
    expect(err.message).toMatch(/: GET \S+\/Systems\/nope answered 404: no such ComputerSystem \(check the configured URL\);/);
    expect(ms).toBeLessThan(5000);
  });

  it('a BMC with several systems and no system path: refused, listing them', async () => {
    const { err } = await failing(() => redfishForceOff({ host: 'cp-3', system: `${bmc.origin}/`, ...USER, ca: ca.certPem, signal: never() }));
    expect(err.message).toMatch(/\/redfish\/v1\/Systems lists 3 systems \(.*\); configure the ComputerSystem's URL as 'system'/);
  });

  it('fencing.yaml → the real engine: an unreachable OLD pauses at old/fence with the BMC reason, then resumes once the password is fixed and is fenced by the emulator', async () => {
    const passwordFile = join(dir, 'cp3.pass');
    await writeFile(passwordFile, 'wrong\n', { mode: 0o600 });
    const yaml = join(dir, 'fencing.yaml');
    await writeFile(yaml, `hosts:\n  h1:\n    kind: redfish\n    system: ${bmc.origin}/redfish/v1/Systems/cp-3\n    username: ${USER.username}\n    passwordFile: ${passwordFile}\n    caFile: ${join(dir, 'bmc-ca.pem')}\n`);
    const fencing = loadFencingConfig(yaml);
    expect(createFencePort(fencing).describe('h1')).toBe(`redfish ForceOff at ${bmc.origin}/redfish/v1/Systems/cp-3`);
    const fx = await membershipFixture(fencing);
    try {
      await fx.create();
      fx.fleet.offline.add('h1');
      const r = await fx.call('POST', '/v1/nodes/replace', { old: 'h1', new: 'h4' });
      expect(r.statusCode).toBe(200);
      const id = r.json<OperationDocument>().id;
      await fx.engine.idle(id);
      const paused = fx.engine.get(id);
      expect(paused.state).toBe('paused');
      expect(paused.error).toMatchObject({ stepKey: 'old/fence', code: 'BALLAST_ERR_FENCE_FAILED' });
      expect(paused.error?.message).toMatch(new RegExp(`^failed to fence h1 through its BMC ${bmc.origin} \\(Redfish, user ballast\\): the BMC refused the credentials .* answered 401`));
      expect(fx.fleet.members.map((m) => m.name)).toContain('h1'); // nothing removed
      expect(await power(UUID(3))).toBe('On');

      await writeFile(passwordFile, `${USER.password}\n`);
      const resumed = await fx.call('POST', `/v1/ops/${id}/resume`);
      expect(resumed.statusCode).toBe(200);
      await fx.engine.idle(id);
      const done = fx.engine.get(id);
      expect(done.error).toBeNull();
      expect(done.state).toBe('succeeded');
      expect(done.steps.find((s) => s.key === 'old/fence')?.message).toBe(`h1 powered off through Redfish (${bmc.origin}/redfish/v1/Systems/${UUID(3)}: ForceOff, then PowerState Off)`);
      expect(await power(UUID(3))).toBe('Off');
      expect(fx.fleet.members.map((m) => m.name)).not.toContain('h1');
    } finally {
      await fx.cleanup();
    }
  });
});
