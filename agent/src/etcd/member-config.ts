/**
 * This host's etcd member as the etcd role installed it, read from the host itself, never from
 * the controller: the environment file `/etc/etcd/etcd.env` (ETCD_NAME, the client URLs, the
 * certificate files) and the client certificate `/etc/etcd/pki/healthcheck-client.*` (the server
 * pair, which carries clientAuth, when absent — as the etcd component's probe does). Only a
 * loopback https client URL is used, and only certificate files under /etc/etcd are read: a
 * changed env file cannot point the agent elsewhere.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BallastError, messageOf } from '../../../shared/src/errors.js';

/** Where the etcd role writes the member's environment (controller/src/roles/etcd.ts). */
export const ETCD_ENV_PATH = '/etc/etcd/etcd.env';
/** Certificate files the agent may read for etcd. */
const PKI_PREFIX = '/etc/etcd/';
/** etcdctl as the etcd role installs it (binDir: /usr/local/bin or /usr/bin). */
const ETCDCTL_PATHS = ['/usr/local/bin/etcdctl', '/usr/bin/etcdctl'];
/** etcdutl, preferred for `snapshot status` (etcdctl's was removed in etcd 3.6) when present. */
const ETCDUTL_PATHS = ['/usr/local/bin/etcdutl', '/usr/bin/etcdutl'];
const MAX_ENV_BYTES = 64 * 1024;

/** What the agent needs to talk to its own member. Paths are host paths (under the agent's root). */
export interface MemberConfig {
  name: string;
  /** `https://127.0.0.1:<port>`. */
  endpoint: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** etcdctl on this host, or null when the role did not install it. */
  etcdctl: string | null;
  /** etcdutl on this host, or null. */
  etcdutl: string | null;
}

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(ETCD_[A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m !== null) env.set(m[1] as string, (m[2] as string).replace(/^"(.*)"$/, '$1'));
  }
  return env;
}

function pkiPath(root: string, value: string | undefined, what: string): string {
  const normal = value === undefined ? '' : posix.normalize(value);
  if (!normal.startsWith(PKI_PREFIX) || normal.includes('\0')) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to read this host's etcd member: ${what} "${value ?? ''}" is not a file under ${PKI_PREFIX}`);
  }
  return join(root, normal);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false; // absent or unreadable: the caller falls back
  }
}

/** Reads the member's configuration under `root` ('/' on a real host). BALLAST_ERR_CONFIG when this host has no etcd member. */
export async function loadMemberConfig(root: string): Promise<MemberConfig> {
  let text: string;
  try {
    text = await readFile(join(root, ETCD_ENV_PATH), 'utf8');
  } catch (err) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to read this host's etcd member: ${ETCD_ENV_PATH}: ${messageOf(err)} (is this an etcd host?)`, { cause: err });
  }
  if (text.length > MAX_ENV_BYTES) throw new BallastError('BALLAST_ERR_CONFIG', `failed to read this host's etcd member: ${ETCD_ENV_PATH} is too large`);
  const env = parseEnv(text);
  const name = env.get('ETCD_NAME') ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) throw new BallastError('BALLAST_ERR_CONFIG', `failed to read this host's etcd member: ETCD_NAME "${name}" is missing or invalid`);
  const endpoint = (env.get('ETCD_LISTEN_CLIENT_URLS') ?? '').split(',').find((u) => /^https:\/\/127\.0\.0\.1:[0-9]{1,5}$/.test(u.trim()));
  if (endpoint === undefined) throw new BallastError('BALLAST_ERR_CONFIG', `failed to read this host's etcd member: ETCD_LISTEN_CLIENT_URLS has no https://127.0.0.1:<port>`);
  const caFile = pkiPath(root, env.get('ETCD_TRUSTED_CA_FILE'), 'ETCD_TRUSTED_CA_FILE');
  const pkiDir = posix.dirname(posix.normalize(env.get('ETCD_CERT_FILE') ?? '/etc/etcd/pki/server.crt'));
  const client = join(root, pkiDir, 'healthcheck-client');
  const useClient = (await exists(`${client}.crt`)) && (await exists(`${client}.key`));
  const first = async (paths: readonly string[]): Promise<string | null> => {
    for (const p of paths) if (await exists(join(root, p))) return join(root, p);
    return null;
  };
  const etcdctl = await first(ETCDCTL_PATHS);
  const etcdutl = await first(ETCDUTL_PATHS);
  return {
    name,
    endpoint: endpoint.trim(),
    caFile,
    certFile: useClient ? `${client}.crt` : pkiPath(root, env.get('ETCD_CERT_FILE'), 'ETCD_CERT_FILE'),
    keyFile: useClient ? `${client}.key` : pkiPath(root, env.get('ETCD_KEY_FILE'), 'ETCD_KEY_FILE'),
    etcdctl,
    etcdutl,
  };
}
