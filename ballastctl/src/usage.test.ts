import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { ctlVersion } from './version.js';

// An empty home: any command that got as far as loading the config would fail differently (exit 2
// with "cannot read config"), so usage errors are proven to be caught before any IO.
const home = mkdtempSync(join(tmpdir(), 'ballastctl-usage-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function runWith(argv: string[], signal?: AbortSignal): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    homedir: home,
    cwd: home,
    ...(signal === undefined ? {} : { signal }),
  });
  return { code, out, err };
}

function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runWith(argv);
}

function writeConfig(server: string): string {
  const path = join(home, 'plain.conf');
  const ca = '"-----BEGIN CERTIFICATE-----\\nunused for http\\n-----END CERTIFICATE-----\\n"';
  writeFileSync(path, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${server}\ncaCert: ${ca}\ntoken: t\n`, { mode: 0o600 });
  return path;
}

describe('usage errors: one stderr line, exit 2, nothing on stdout', () => {
  it.each([
    [['hostz'], /^error: unknown command 'hostz' \(Did you mean/],
    [['nodes'], /^error: unknown command 'nodes'/],
    [['hosts', '--bogus'], /^error: unknown option '--bogus'/],
    [['hosts', '--wach'], /^error: unknown option '--wach' \(Did you mean --watch\?\)/],
    [['hosts', 'extra'], /^error: too many arguments for 'hosts'/],
    [['hosts', '-o', 'xml'], /^error: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are table, wide, json, yaml\./],
    [['hosts', '-o'], /^error: option '-o, --output <format>' argument missing/],
    [['events', '-o', 'wide'], /argument 'wide' is invalid/],
    [['events', '--limit', '0'], /^error: option '--limit <n>' argument '0' is invalid\. expected an integer from 1 to 1000/],
    [['audit', '--limit', 'lots'], /argument 'lots' is invalid/],
    [['token', 'create', '--ttl', '5s'], /^error: option '--ttl <duration>' argument '5s' is invalid\. the ttl must be at least 1m/],
    [['token', 'create', '--ttl', '31d'], /the ttl must be at most 30d/],
    [['token', 'create', '--ttl', 'soon'], /expected a duration like 90s, 30m, 1h or 7d/],
    [['token', 'create', '--uses', '0'], /argument '0' is invalid/],
    [['token', 'create', '-o', 'yaml'], /argument 'yaml' is invalid\. Allowed choices are text, json\./],
    [['token', 'revoke'], /^error: missing required argument 'id'/],
    [['token', 'revoke', 'a/b'], /^error: command-argument value 'a\/b' is invalid for argument 'id'/],
    [['token'], /^error: missing command for 'ballastctl token': one of create, list, revoke/],
    [['operator'], /^error: missing command for 'ballastctl operator'/],
    [[], /^error: missing command for 'ballastctl'/],
    [['host'], /^error: missing required argument 'name'/],
    [['host', 'show'], /^error: missing required argument 'name'/],
    [['host', 'remove'], /^error: missing required argument 'name'/],
    [['host', 'Bad_Name'], /is invalid for argument 'name'/],
    [['operator', 'create'], /^error: (missing required argument 'name'|required option '--role <role>' not specified)/],
    [['operator', 'create', 'bob'], /^error: required option '--role <role>' not specified/],
    [['operator', 'create', 'bob', '--role', 'root'], /argument 'root' is invalid\. Allowed choices are viewer, operator, admin\./],
    [['operator', 'revoke'], /^error: missing required argument 'name'/],
    [['whoami', '-o', 'table'], /argument 'table' is invalid/],
    // An unknown command is an error with or without --help (commander printed the parent's help, exit 0).
    [['snapshot', 'create', '--help'], /^error: unknown command 'snapshot' for 'ballastctl' \(see 'ballastctl --help'\)/],
    [['snapshot', 'create'], /^error: unknown command 'snapshot'/],
    [['node', 'replace'], /^error: required option '--with <new>' not specified/],
    [['hots', '-h'], /^error: unknown command 'hots' for 'ballastctl' \(Did you mean host or hosts\?\)/],
    [['--server', 'https://x', 'cluster', 'creat', '--help'], /^error: unknown command 'creat' for 'ballastctl cluster' \(Did you mean create\?\)/],
    [['help', 'snapshot'], /^error: unknown command 'snapshot' for 'ballastctl'/],
  ])('%j', async (argv, message) => {
    const { code, out, err } = await run(...argv);
    expect(err).toMatch(message);
    expect(err.endsWith('\n')).toBe(true);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(out).toBe('');
    expect(code).toBe(2);
  });

  it('reports a missing config as a one-line config error, exit 2', async () => {
    const { code, err } = await run('hosts');
    expect(err).toBe(
      `error: cannot read config ${join(home, '.config/ballast/config')} (from default): ENOENT (no such file); pass --config FILE or set BALLAST_CONFIG\n`,
    );
    expect(code).toBe(2);
  });

  it('rejects a bad --server as a usage error', async () => {
    const config = writeConfig('http://127.0.0.1:1');
    const { code, err } = await run('hosts', '--server', 'localhost:9443', '--config', config);
    expect({ code, err }).toEqual({ code: 2, err: 'error: invalid server URL "localhost:9443" (--server): must start with https://\n' });
  });

  it('exits 130, silently, when a non-streaming command is interrupted', async () => {
    const server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = writeConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const interrupt = new AbortController();
    setTimeout(() => interrupt.abort(), 50);
    expect(await runWith(['hosts', '--config', config], interrupt.signal)).toEqual({ code: 130, out: '', err: '' });
    server.closeAllConnections();
    server.close();
  });
});

describe('help and version', () => {
  it.each([['--help'], ['-h'], ['help'], ['hosts', '--help'], ['help', 'hosts'], ['token', 'create', '--help'], ['host', '--help'], ['host', 'show', '--help']])(
    '%j prints help on stdout and exits 0',
    async (...argv) => {
      const { code, out, err } = await run(...argv);
      expect(code).toBe(0);
      expect(err).toBe('');
      expect(out).toMatch(/^Usage: ballastctl/);
    },
  );

  it('every command and group has a description and examples', async () => {
    const commands = [
      ['hosts'],
      ['host'],
      ['host', 'show'],
      ['host', 'remove'],
      ['events'],
      ['token'],
      ['token', 'create'],
      ['token', 'list'],
      ['token', 'revoke'],
      ['audit'],
      ['operator'],
      ['operator', 'create'],
      ['operator', 'list'],
      ['operator', 'revoke'],
      ['whoami'],
      ['version'],
    ];
    for (const path of commands) {
      const { code, out } = await run(...path, '--help');
      expect(code, path.join(' ')).toBe(0);
      expect(out.split('\n')[2], path.join(' ')).toMatch(/^[a-z]/);
      expect(out, path.join(' ')).toContain(`Examples:\n  $ ballastctl ${path[0]}`);
      expect(out, path.join(' ')).toContain('--config <file>');
    }
  });

  it('prints the package version without needing a config', async () => {
    expect(ctlVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(await run('version')).toEqual({ code: 0, out: `ballastctl ${ctlVersion()}\n`, err: '' });
    expect(await run('version', '-o', 'json')).toEqual({ code: 0, out: `{\n  "clientVersion": "${ctlVersion()}"\n}\n`, err: '' });
    expect(await run('--version')).toEqual({ code: 0, out: `${ctlVersion()}\n`, err: '' });
  });
});
