import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueClientCert, createCa } from '../../controller/src/pki/ca.js';
import {
  TestController,
  createToken,
  joinAgent,
  requireBuild,
  runAgent,
  stopAll,
  tempDir,
  waitFor,
} from './harness.js';

/** Opens an agent websocket with the given TLS material and reports how the upgrade went. */
function upgrade(url: string, tls: { cert?: string; key?: string; ca?: string }): Promise<{ status: number; body: string } | { open: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('https:', 'wss:')}/v1/agent/ws`, {
      ...tls,
      rejectUnauthorized: tls.ca !== undefined,
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => resolve({ open: ws }));
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe('enrolment and trust: every refusal is clear on both sides and counted', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  const join1 = (name: string, token: string, caHash: string) =>
    joinAgent({ server: ctl.url, token, caHash, name, dataDir: join(dir.path, name) });

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('enrol');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
  });

  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  it('refuses a controller whose CA does not match the pinned hash, before sending the token', async () => {
    const t = await createToken(ctl);
    const wrong = `sha256:${'ab'.repeat(32)}`;
    const r = await join1('wrong-hash', t.token, wrong);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to trust');
    expect(r.stderr).toContain('[BALLAST_ERR_CA_HASH_MISMATCH]');
    expect(r.stderr).toContain(wrong);
    expect(r.stderr).toContain(t.caHash);
    const tokens = await ctl.ctlJson<{ items: Array<{ id: string; usesCount: number }> }>(['token', 'list']);
    expect(tokens.items.find((x) => x.id === t.info.id)?.usesCount).toBe(0);
  });

  it('refuses an unknown, a revoked, a used-up and an expired token with the reason', async () => {
    const before = await ctl.metric('ballast_auth_rejected_total{reason="join_token"}');
    const real = await createToken(ctl);
    const unknown = await join1('unknown-token', `zzzzzz.${'0'.repeat(16)}`, real.caHash);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[BALLAST_ERR_TOKEN_INVALID]');

    const revoked = await createToken(ctl);
    expect((await ctl.ctl(['token', 'revoke', revoked.info.id])).code).toBe(0);
    const r2 = await join1('revoked-token', revoked.token, revoked.caHash);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('[BALLAST_ERR_TOKEN_REVOKED]');

    const once = await createToken(ctl, ['--uses', '1']);
    expect((await join1('first-use', once.token, once.caHash)).code).toBe(0);
    const r3 = await join1('second-use', once.token, once.caHash);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain('[BALLAST_ERR_TOKEN_EXHAUSTED]');

    const expiring = await createToken(ctl, ['--ttl', '1h']);
    // Expire it for real in the controller's SQLite file (WAL allows a second connection).
    const db = new Database(join(ctl.dataDir, 'ballast.db'));
    db.prepare('UPDATE join_tokens SET expires_at = ? WHERE id = ?').run(Date.now() - 1000, expiring.info.id);
    db.close();
    const r4 = await join1('expired-token', expiring.token, expiring.caHash);
    expect(r4.code).toBe(1);
    expect(r4.stderr).toContain('[BALLAST_ERR_TOKEN_EXPIRED]');

    expect(await ctl.metric('ballast_auth_rejected_total{reason="join_token"}')).toBe(before + 4);
    const events = await ctl.ctlJson<{ items: Array<{ kind: string; message: string }> }>(['events', '--limit', '100']);
    expect(events.items.filter((e) => e.kind === 'refused').length).toBeGreaterThanOrEqual(4);
    const hosts = await ctl.ctlJson<{ items: Array<{ name: string }> }>(['hosts']);
    expect(hosts.items.map((h) => h.name)).toEqual(['first-use']);
  });

  it('refuses a second host with the same name, telling the operator what to do', async () => {
    const t = await createToken(ctl);
    const r = await joinAgent({ server: ctl.url, token: t.token, caHash: t.caHash, name: 'first-use', dataDir: join(dir.path, 'dup') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[BALLAST_ERR_HOST_EXISTS]');
    expect(r.stderr).toContain('ballastctl host remove first-use');
  });

  it('refuses a plain socket without a client certificate, and one from another CA (401, counted)', async () => {
    const noCert = await upgrade(ctl.url, {});
    expect('status' in noCert && noCert.status).toBe(401);
    expect('body' in noCert && JSON.parse(noCert.body).code).toBe('BALLAST_ERR_UNAUTHENTICATED');
    expect(await ctl.metric('ballast_auth_rejected_total{reason="no_client_cert"}')).toBeGreaterThanOrEqual(1);

    const otherCa = await createCa({ commonName: 'impostor-ca' });
    const forged = await issueClientCert({ ca: otherCa, commonName: 'first-use' });
    const bad = await upgrade(ctl.url, { cert: forged.certPem, key: forged.keyPem });
    expect('status' in bad && bad.status).toBe(401);
    expect(await ctl.metric('ballast_auth_rejected_total{reason="bad_client_cert"}')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a protocol version mismatch naming both versions', async () => {
    const dataDir = join(dir.path, 'first-use');
    const tls = {
      cert: await readFile(join(dataDir, 'agent.crt'), 'utf8'),
      key: await readFile(join(dataDir, 'agent.key'), 'utf8'),
      ca: await readFile(join(dataDir, 'ca.crt'), 'utf8'),
    };
    const conn = await upgrade(ctl.url, tls);
    if (!('open' in conn)) throw new Error(`upgrade refused: ${JSON.stringify(conn)}`);
    const ws = conn.open;
    const got = new Promise<{ frame: { code: string; message: string }; close: number }>((resolve) => {
      let frame = { code: '', message: '' };
      ws.on('message', (d) => {
        frame = JSON.parse(d.toString()) as typeof frame;
      });
      ws.on('close', (code) => resolve({ frame, close: code }));
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: 99, agentVersion: '9.9.9', sessionId: 'x' }));
    const { frame, close } = await got;
    expect(frame.code).toBe('BALLAST_ERR_PROTOCOL_VERSION');
    expect(frame.message).toContain('v99');
    expect(frame.message).toContain('v1');
    expect(close).toBe(4002);
  });

  it('refuses a removed host: its certificate is revoked and the agent says why', async () => {
    const t = await createToken(ctl);
    const dataDir = join(dir.path, 'to-remove');
    expect((await join1('to-remove', t.token, t.caHash)).code).toBe(0);
    const agent = runAgent(dataDir);
    await waitFor('to-remove healthy', async () => {
      const h = await ctl.ctlJson<{ host: { state: string } }>(['host', 'to-remove']);
      return h.host.state === 'healthy' ? true : undefined;
    });
    const removed = await ctl.ctl(['host', 'remove', 'to-remove']);
    expect(removed.code, removed.stderr).toBe(0);
    await waitFor('agent told its certificate is revoked', () => (/BALLAST_ERR_CERT_REVOKED/.test(agent.output()) ? true : undefined), 15_000);
    expect(agent.output()).toMatch(/revoked/);
    expect(await ctl.metric('ballast_auth_rejected_total{reason="cert_revoked"}')).toBeGreaterThanOrEqual(1);
    const hosts = await ctl.ctlJson<{ items: Array<{ name: string }> }>(['hosts']);
    expect(hosts.items.map((h) => h.name)).not.toContain('to-remove');
    // The name is free again: a fresh join with a new token works.
    const again = await createToken(ctl);
    agent.child.kill('SIGKILL');
    const rejoin = await joinAgent({ server: ctl.url, token: again.token, caHash: again.caHash, name: 'to-remove', dataDir: join(dir.path, 'to-remove-2') });
    expect(rejoin.code, rejoin.stderr).toBe(0);
  });
});
