import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, resolveConfigPath } from './config.js';
import { CtlError, EXIT_USAGE } from './errors.js';

// A real (throwaway, never used for TLS) self-signed certificate: https configs must hold one.
const CA = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBkTCCATegAwIBAgIUK+xJzEuco4iyhYMknuqzH1e9ctYwCgYIKoZIzj0EAwIw',
  'HTEbMBkGA1UEAwwSYmFsbGFzdGN0bC10ZXN0LWNhMCAXDTI2MTEyMzA0MTMwN1oY',
  'DzIxMjYxMDMwMDQxMzA3WjAdMRswGQYDVQQDDBJiYWxsYXN0Y3RsLXRlc3QtY2Ew',
  'WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASoYHB+k8o0eZ4KmPOiHmXMLDngkvnD',
  'JS0xe6hCNHRF4aNlVbkSeDpKRvuMom+OfUCs7k2zEfttvNWVOiqzphiBo1MwUTAd',
  'BgNVHQ4EFgQUNl85UiaCk+T0TwK/k4vy7E7BS/UwHwYDVR0jBBgwFoAUNl85UiaC',
  'k+T0TwK/k4vy7E7BS/UwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF',
  'AiEAhlaobSBYI5dwjJPQfrG8KM7XATjM8wWGe1fjneMpl8gCIFGGNTmk6721S6m5',
  '/JmT31oVJeZJLD0w5i3SCzFAF4h1',
  '-----END CERTIFICATE-----',
  '',
].join('\n');

function configText(over: Record<string, string> = {}): string {
  const fields = { server: 'https://127.0.0.1:9443', token: 'blst_abc', user: 'admin', ...over };
  return [
    'apiVersion: ballast.dev/v1alpha1',
    'kind: Config',
    `server: ${fields.server}`,
    'caCert: |',
    ...CA.trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
    `token: ${fields.token}`,
    `user: ${fields.user}`,
    '',
  ].join('\n');
}

function expectConfigError(fn: () => unknown, message: string | RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CtlError);
    expect((err as CtlError).exitCode).toBe(EXIT_USAGE);
    expect((err as CtlError).message).toMatch(message);
    expect((err as CtlError).message).not.toContain('\n');
    return;
  }
  throw new Error('expected a config error');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ballastctl-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('resolveConfigPath', () => {
  const base = { homedir: '/home/op', cwd: '/work' };

  it('prefers --config, then BALLAST_CONFIG, then ~/.config/ballast/config', () => {
    expect(resolveConfigPath({ ...base, flag: 'a.conf', env: { BALLAST_CONFIG: '/etc/b.conf' } })).toEqual({
      path: '/work/a.conf',
      source: '--config',
    });
    expect(resolveConfigPath({ ...base, flag: undefined, env: { BALLAST_CONFIG: '/etc/b.conf' } })).toEqual({
      path: '/etc/b.conf',
      source: 'BALLAST_CONFIG',
    });
    expect(resolveConfigPath({ ...base, flag: undefined, env: { BALLAST_CONFIG: '' } })).toEqual({
      path: '/home/op/.config/ballast/config',
      source: 'default',
    });
  });

  it('loads from each source in that order', () => {
    const flagged = write('flag.conf', configText({ token: 'from-flag' }));
    const envd = write('env.conf', configText({ token: 'from-env' }));
    write('home/.config/ballast/config', configText({ token: 'from-home' }));
    const inputs = { homedir: join(dir, 'home'), cwd: dir };
    const warn = (): void => undefined;
    expect(loadConfig({ ...inputs, flag: flagged, env: { BALLAST_CONFIG: envd } }, undefined, warn).config.token).toBe('from-flag');
    expect(loadConfig({ ...inputs, flag: undefined, env: { BALLAST_CONFIG: envd } }, undefined, warn).config.token).toBe('from-env');
    expect(loadConfig({ ...inputs, flag: undefined, env: {} }, undefined, warn).config.token).toBe('from-home');
  });
});

describe('parseConfig', () => {
  it('accepts the file the controller writes', () => {
    const config = parseConfig(configText(), 'admin.conf');
    expect(config).toEqual({
      apiVersion: 'ballast.dev/v1alpha1',
      kind: 'Config',
      server: 'https://127.0.0.1:9443',
      caCert: CA,
      token: 'blst_abc',
      user: 'admin',
    });
  });

  it('names the file and the field path of the first problem', () => {
    expectConfigError(() => parseConfig(configText().replace(/token: .*\n/, ''), '/x/admin.conf'), /^invalid config \/x\/admin\.conf: \/token: /);
    expectConfigError(() => parseConfig(configText({ server: 'ftp://h' }), '/x/admin.conf'), /^invalid config \/x\/admin\.conf: \/server: /);
    expectConfigError(() => parseConfig(configText().replace('v1alpha1', 'v9'), 'c'), /^invalid config c: \/apiVersion: /);
    expectConfigError(() => parseConfig(configText().replace(/caCert: \|\n( {2}.*\n)+/, 'caCert: nope\n'), 'c'), /^invalid config c: \/caCert: /);
    expectConfigError(() => parseConfig('- a\n- b\n', 'c'), /^invalid config c: \/: /);
  });

  it('reports empty files and YAML syntax errors on one line', () => {
    expectConfigError(() => parseConfig('', 'c'), 'invalid config c: the file is empty');
    expectConfigError(() => parseConfig('server: [unclosed\n', 'c'), /^invalid config c: not valid YAML: .* at line \d+, column \d+$/);
  });
});

describe('loadConfig', () => {
  const warn = (): void => undefined;

  it('reports a missing file with its path and where the path came from', () => {
    expectConfigError(
      () => loadConfig({ flag: undefined, env: {}, homedir: dir, cwd: dir }, undefined, warn),
      `cannot read config ${join(dir, '.config/ballast/config')} (from default): ENOENT (no such file); pass --config FILE or set BALLAST_CONFIG`,
    );
    expectConfigError(
      () => loadConfig({ flag: 'nope.conf', env: {}, homedir: dir, cwd: dir }, undefined, warn),
      `cannot read config ${join(dir, 'nope.conf')} (from --config): ENOENT (no such file)`,
    );
  });

  it('applies --server and validates it', () => {
    const path = write('c.conf', configText());
    const inputs = { flag: path, env: {}, homedir: dir, cwd: dir };
    expect(loadConfig(inputs, 'http://127.0.0.1:8080', warn).server.href).toBe('http://127.0.0.1:8080/');
    expect(loadConfig(inputs, undefined, warn).server.href).toBe('https://127.0.0.1:9443/');
    expectConfigError(() => loadConfig(inputs, 'not a url', warn), 'invalid server URL "not a url" (--server): not a URL');
    expectConfigError(() => loadConfig(inputs, 'ftp://h', warn), /\(--server\): must start with https:\/\//);
  });

  it('checks caCert is a real certificate when the server is https', () => {
    const fake = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
    const path = write('c.conf', configText().replace(/caCert: \|\n( {2}.*\n)+/, `caCert: ${JSON.stringify(fake)}\n`));
    const inputs = { flag: path, env: {}, homedir: dir, cwd: dir };
    expectConfigError(() => loadConfig(inputs, undefined, warn), new RegExp(`^invalid config ${path}: /caCert: not a valid PEM certificate \\(.+\\)$`));
    // Plain http (tests, local debugging) never uses the CA.
    expect(loadConfig(inputs, 'http://127.0.0.1:1', warn).config.caCert).toBe(fake);
  });

  it('warns when the token file is readable by others', () => {
    const lines: string[] = [];
    const path = write('open.conf', configText(), 0o644);
    loadConfig({ flag: path, env: {}, homedir: dir, cwd: dir }, undefined, (l) => lines.push(l));
    expect(lines).toEqual([`warning: config ${path} holds a token but has mode 0644; run: chmod 600 ${path}`]);
  });
});
