import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testApp } from '../api/testing.js';
import { runCli } from '../../../ballastctl/src/cli.js';
import { type OpsFixture, opsFixture, until } from './fakes.js';

// ballastctl against the real operations API (plain HTTP on 127.0.0.1), a real store and test executors.
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ballastctl-ops-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ballastctl ops / op', () => {
  let fx: OpsFixture;
  let app: FastifyInstance;
  let config: string;

  beforeEach(async () => {
    fx = await opsFixture();
    app = await testApp({ store: fx.store, serverUrl: () => 'http://127.0.0.1', ops: fx.engine });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const token = fx.store.operators.ensureAdmin() ?? '';
    config = join(dir, `${Date.now()}-${Math.random()}.conf`);
    const caYaml = CA.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
    writeFileSync(config, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${url}\ncaCert: |\n${caYaml}\ntoken: ${token}\nuser: admin\n`, { mode: 0o600 });
  });
  afterEach(async () => {
    await app.close();
    await fx.cleanup();
  });

  function ctl(argv: string[], options: { signal?: AbortSignal; tty?: boolean } = {}) {
    const result = { code: -1, out: '', err: '' };
    const done = runCli(argv, {
      stdout: { write: (s: string) => (result.out += s), isTTY: options.tty === true },
      stderr: { write: (s: string) => (result.err += s) },
      env: { BALLAST_CONFIG: config, NO_COLOR: '1' },
      homedir: dir,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }).then((code) => {
      result.code = code;
      return result;
    });
    return { result, done };
  }
  const start = (hosts: string[]) => fx.engine.start('test.rollout', { hosts }, { actor: 'admin', cluster: 'prod' });

  it('ops lists operations as a table and as JSON', async () => {
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    const { code, out } = await ctl(['ops']).done;
    expect(code).toBe(0);
    const [header, row] = out.split('\n');
    expect(header).toMatch(/^ID\s+KIND\s+CLUSTER\s+STATE\s+PHASE\s+PROGRESS\s+AGE$/);
    expect(row).toMatch(new RegExp(`^${doc.id}\\s+test.rollout\\s+prod\\s+succeeded\\s+-\\s+3/3\\s+\\d+s$`));
    const json = await ctl(['ops', '-o', 'json']).done;
    expect(JSON.parse(json.out).items[0]).toMatchObject({ id: doc.id, state: 'succeeded' });
  });

  it('ops --kind lists only those kinds; a malformed kind is refused by the API, exit 1', async () => {
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    const mine = await ctl(['ops', '--kind', 'node.replace,test.rollout', '-o', 'json']).done;
    expect(JSON.parse(mine.out).items.map((o: { id: string }) => o.id)).toEqual([doc.id]);
    const none = await ctl(['ops', '--kind', 'node.replace']).done;
    expect([none.code, none.err]).toEqual([0, 'No operations yet.\n']);
    const bad = await ctl(['ops', '--kind', 'node.replace;x']).done;
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('BALLAST_ERR_VALIDATION');
  });

  it('op ID shows each finished step and a recap; exit 0 when succeeded', async () => {
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    const { code, out, err } = await ctl(['op', doc.id]).done;
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toContain(`OPERATION ${doc.id}: test.rollout on cluster prod (3 steps) by admin\n`);
    expect(out).toMatch(/\nchanged {2}prep {3}h1 {4}Prepare h1 {2}\(\d+\.\ds\)\n/);
    expect(out).toMatch(/\nchanged {2}gate {3}- {5}Wait until all hosts are healthy {2}\(\d+\.\ds\)\n/);
    expect(out).toContain(`RECAP ${doc.id}: ok=0 changed=3 failed=0 skipped=0 pending=0\nOperation ${doc.id} succeeded after`);
  });

  it('op ID --follow shows live progress on a terminal and ends with the recap', async () => {
    fx.ledger.blocked.add('join/h1');
    const doc = await start(['h1']);
    await until(() => fx.ledger.block.has('join/h1'), 'join/h1 to block');
    const { result, done } = ctl(['op', doc.id, '--follow'], { tty: true });
    await until(() => result.out.includes('running  join   h1    Join h1  0s  waiting for join/h1'), 'the live line');
    fx.ledger.release('join/h1');
    const { code, out } = await done;
    expect(code).toBe(0);
    expect(out).toMatch(/changed {2}join {3}h1 {4}Join h1 {2}\(\d+\.\ds\)\n/);
    expect(out).toContain(`Operation ${doc.id} succeeded`);
  });

  it('a paused operation exits 1 with the error; op resume --follow finishes it', async () => {
    fx.ledger.failures.set('join/h1', 1);
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    const shown = await ctl(['op', doc.id]).done;
    expect(shown.code).toBe(1);
    expect(shown.out).toMatch(/\nfailed {3}join {3}h1 {4}Join h1 {2}\(\d+\.\ds\): BALLAST_ERR_COMMAND_FAILED: failed to run Join h1: exit status 1\n/);
    expect(shown.out).toContain(`paused after`);
    expect(shown.out).toContain(`Fix the cause, then: ballastctl op resume ${doc.id} --follow`);
    expect(shown.err).toBe(`error: operation ${doc.id} paused: BALLAST_ERR_COMMAND_FAILED at join/h1 on h1\n`);

    const resumed = await ctl(['op', 'resume', doc.id, '--follow']).done;
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/changed {2}join {3}h1 {4}Join h1 {2}\(\d+\.\ds\) {2}\[attempt 2\]\n/);
    expect(resumed.out).toContain(`Operation ${doc.id} succeeded`);
  });

  it('Ctrl-C stops following (exit 130) and leaves the operation running; op abort stops it', async () => {
    fx.ledger.blocked.add('prep/h1');
    const doc = await start(['h1']);
    await until(() => fx.ledger.block.has('prep/h1'), 'prep/h1 to block');
    const interrupt = new AbortController();
    const { result, done } = ctl(['op', doc.id, '-f'], { signal: interrupt.signal });
    await until(() => result.out.includes('OPERATION'), 'the header');
    interrupt.abort();
    const followed = await done;
    expect(followed.code).toBe(130);
    expect(followed.err).toContain(`Stopped following; operation ${doc.id} keeps running`);
    expect(fx.engine.get(doc.id).state).toBe('running');

    const aborted = await ctl(['op', 'abort', doc.id]).done;
    expect(aborted).toMatchObject({ code: 0, out: `Operation ${doc.id} aborted (0/3 steps done; cancelled prep/h1); nothing was torn down\n` });
    expect((await ctl(['op', doc.id]).done).code).toBe(1);
  });

  it('rejects malformed ids as usage errors', async () => {
    const { code, err } = await ctl(['op', 'resume', 'nope']).done;
    expect(code).toBe(2);
    expect(err).toContain('operation ids look like op-0123456789ab');
  });
});
