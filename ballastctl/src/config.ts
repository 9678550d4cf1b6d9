/**
 * Loading of admin.conf-style client configs. The file is written by the controller (mode 0600)
 * and validated here with a TypeBox schema so that a hand-edited file fails with the exact field
 * path instead of a confusing TLS or HTTP error later.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parseDocument } from 'yaml';
import { configError } from './errors.js';

/** The `apiVersion` every config file must declare, so a future format change is detectable. */
export const CONFIG_API_VERSION = 'ballast.dev/v1alpha1';

/** Schema of the client config. Unknown keys are tolerated so newer controllers can add fields. */
export const CtlConfigSchema = Type.Object({
  apiVersion: Type.Literal(CONFIG_API_VERSION),
  kind: Type.Literal('Config'),
  server: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
  caCert: Type.String({ pattern: '-----BEGIN CERTIFICATE-----', maxLength: 65536 }),
  token: Type.String({ minLength: 1, maxLength: 1024 }),
  user: Type.Optional(Type.String({ maxLength: 256 })),
});
/** A validated client config. */
export type CtlConfig = Static<typeof CtlConfigSchema>;

const checkConfig = TypeCompiler.Compile(CtlConfigSchema);

/** Where the config path came from, for error messages that tell the user what to change. */
export type ConfigSource = '--config' | 'BALLAST_CONFIG' | 'default';

/** A loaded config plus where it came from and the effective server (after `--server`). */
export interface ResolvedConfig {
  path: string;
  source: ConfigSource;
  config: CtlConfig;
  server: URL;
}

/** Inputs of config resolution; passed explicitly so tests need not touch the real environment. */
export interface ConfigInputs {
  flag: string | undefined;
  env: Record<string, string | undefined>;
  homedir: string;
  cwd: string;
}

/** Picks the config file: `--config`, then `$BALLAST_CONFIG`, then `~/.config/ballast/config`. */
export function resolveConfigPath(inputs: ConfigInputs): { path: string; source: ConfigSource } {
  if (inputs.flag !== undefined && inputs.flag !== '') return { path: resolve(inputs.cwd, inputs.flag), source: '--config' };
  const fromEnv = inputs.env.BALLAST_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(inputs.cwd, fromEnv), source: 'BALLAST_CONFIG' };
  return { path: join(inputs.homedir, '.config', 'ballast', 'config'), source: 'default' };
}

/** Parses and validates config text; `path` only labels the messages. Throws a config error (exit 2). */
export function parseConfig(text: string, path: string): CtlConfig {
  const doc = parseDocument(text);
  const syntax = doc.errors[0];
  // yaml's pretty message is "<what> at line L, column C:" followed by a source excerpt; keep line one.
  if (syntax !== undefined) throw configError(`invalid config ${path}: not valid YAML: ${firstLine(syntax.message).replace(/:$/, '')}`);
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) throw configError(`invalid config ${path}: the file is empty`);
  if (!checkConfig.Check(value)) {
    const first = checkConfig.Errors(value).First();
    const field = first?.path === undefined || first.path === '' ? '/' : first.path;
    throw configError(`invalid config ${path}: ${field}: ${first?.message ?? 'does not match the schema'}`);
  }
  return value;
}

/**
 * Resolves, reads and validates the config, and applies a `--server` override.
 * `warn` receives a note when the file (which holds a bearer token) is readable by others.
 */
export function loadConfig(inputs: ConfigInputs, serverOverride: string | undefined, warn: (line: string) => void): ResolvedConfig {
  const { path, source } = resolveConfigPath(inputs);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const hint = source === 'default' ? '; pass --config FILE or set BALLAST_CONFIG' : '';
    throw configError(`cannot read config ${path} (from ${source}): ${code}${describeFsCode(code)}${hint}`, err);
  }
  const config = parseConfig(text, path);
  warnIfExposed(path, warn);
  const server = parseServer(serverOverride ?? config.server, serverOverride === undefined ? `${path}: /server` : '--server');
  // Node silently ignores an unparseable `ca`, which would surface later as a baffling
  // verification failure; check it here, where the message can point at the field.
  if (server.protocol === 'https:') checkCaCert(config.caCert, path);
  return { path, source, config, server };
}

function checkCaCert(pem: string, path: string): void {
  try {
    new X509Certificate(pem);
  } catch (err) {
    // OpenSSL's `reason` ("header too long") reads better than its coded message.
    const reason = (err as { reason?: unknown }).reason;
    const why = typeof reason === 'string' ? reason : (err as Error).message;
    throw configError(`invalid config ${path}: /caCert: not a valid PEM certificate (${why})`, err);
  }
}

/** Parses a server URL; `label` says where it came from. Only http(s) origins with an optional base path. */
export function parseServer(value: string, label: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(`invalid server URL ${JSON.stringify(value)} (${label}): not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(`invalid server URL ${JSON.stringify(value)} (${label}): must start with https://`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw configError(`invalid server URL ${JSON.stringify(value)} (${label}): no credentials, query or fragment allowed`);
  }
  return url;
}

function warnIfExposed(path: string, warn: (line: string) => void): void {
  if (process.platform === 'win32') return;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warn(`warning: config ${path} holds a token but has mode ${mode.toString(8).padStart(4, '0')}; run: chmod 600 ${path}`);
    }
  } catch {
    // It was readable a moment ago; a stat race is not worth failing the command for.
  }
}

function describeFsCode(code: string): string {
  const known: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  const text = known[code];
  return text === undefined ? '' : ` (${text})`;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}
