import { createHash, X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorResponseSchema } from '../../../shared/src/api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { hashFile } from '../../../shared/src/hashing.js';
import { compareVersions } from '../../../shared/src/version-compare.js';

/**
 * One-line host install: `GET /install.sh` and the package mirror `GET /v1/packages[/:file]`.
 *
 * How a host with no CA yet trusts what it runs (decision):
 * 1. The one-liner fetches the script with `curl -k --pinnedpubkey sha256//<serving key>` (see
 *    `installCommand`; `curl … | sh -s -- --token T --ca-hash H` works too): curl
 *    skips chain validation but refuses any server whose public key does not hash to the pin (curl
 *    exits 90 on a mismatch, checked on this machine). curl can only pin the leaf key, not the CA, so
 *    the command carries the serving key's pin beside the CA hash (`installCommand`).
 * 2. The script then does kubeadm's discovery: it fetches the CA from /v1/join/ca and accepts it only
 *    if the SHA-256 of its public key (SPKI DER) equals `--ca-hash`; from there on curl verifies
 *    the controller normally with `--cacert`.
 * 3. The package's SHA-256 is baked into the script (computed here from the file it will fetch),
 *    and the script installs nothing that does not match.
 * 4. `ballast-agent join` pins the CA by the same hash again and proves the token.
 * The token and CA hash travel as the script's arguments, never in
 * the URL, so they do not end up in access logs or proxies.
 */
export interface InstallRoutesOptions {
  /** Directory holding the .deb files served to hosts (the controller package ships the agent's). */
  packagesDir: string;
  /** The URL hosts use to reach this controller (e.g. https://10.0.0.5:9443). */
  serverUrl: () => string;
  /** PEM of the serving (leaf) certificate, for the pin baked into the script's own fetches. */
  serverCertPem?: () => string;
}

/** One served package. */
export interface PackageEntry {
  file: string;
  size: number;
  sha256: string;
}

const PackageEntrySchema = Type.Object({ file: Type.String(), size: Type.Integer(), sha256: Type.String() });
const PackageIndexSchema = Type.Object({ items: Type.Array(PackageEntrySchema) });
const PACKAGE_FILE = /^[A-Za-z0-9][A-Za-z0-9.+~_-]*\.deb$/;
const AGENT_DEB = /^ballast-agent_(.+)_amd64\.deb$/;

/** curl's --pinnedpubkey value for a certificate: `sha256//` + base64 SHA-256 of its SPKI DER. */
export function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256//${createHash('sha256').update(spki).digest('base64')}`;
}

/**
 * The copy-paste line printed with a join token: install the agent package and join, as root.
 * Download-then-run rather than `curl … | sh`: with a pipe, a refused pin or an HTTP error leaves sh
 * an empty script and the line exits 0 (measured in the lab), which automation reads as success;
 * `&&` makes every failure the line's exit status.
 */
export function installCommand(options: { serverUrl: string; token: string; caHash: string; serverCertPem: string }): string {
  const pin = spkiPin(options.serverCertPem);
  return `curl -fsSL -k --pinnedpubkey '${pin}' -o ballast-install.sh ${options.serverUrl}/install.sh && sh ballast-install.sh --token ${options.token} --ca-hash ${options.caHash}`;
}

/** Caches digests by (name, size, mtime): a package is hashed once, not per request. */
class PackageIndex {
  private readonly digests = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

  constructor(private readonly dir: string) {}

  async list(): Promise<PackageEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: PackageEntry[] = [];
    for (const file of names.filter((n) => PACKAGE_FILE.test(n)).sort()) {
      const entry = await this.entry(file);
      if (entry) out.push(entry);
    }
    return out;
  }

  async entry(file: string): Promise<PackageEntry | null> {
    if (!PACKAGE_FILE.test(file)) return null;
    const path = join(this.dir, file);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      return null; // absent (or unreadable) packages are simply not served
    }
    if (!info.isFile()) return null;
    const cached = this.digests.get(file);
    if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return { file, size: info.size, sha256: cached.sha256 };
    const sha256 = await hashFile(path);
    this.digests.set(file, { size: info.size, mtimeMs: info.mtimeMs, sha256 });
    return { file, size: info.size, sha256 };
  }

  /** The agent package with the highest version, or null. */
  async newestAgent(): Promise<PackageEntry | null> {
    const agents = (await this.list()).filter((p) => AGENT_DEB.test(p.file));
    agents.sort((a, b) => compareVersions(AGENT_DEB.exec(a.file)![1]!, AGENT_DEB.exec(b.file)![1]!));
    return agents.at(-1) ?? null;
  }
}


/** GET /install.sh, GET /v1/packages and GET /v1/packages/:file (all public), as a fastify plugin. */
export async function installRoutes(app: FastifyInstance, opts: InstallRoutesOptions): Promise<void> {
  const index = new PackageIndex(opts.packagesDir);

  app.get(
    '/v1/packages',
    { config: { auth: 'none' }, schema: { response: { 200: PackageIndexSchema } } },
    async () => ({ items: await index.list() }),
  );

  app.get<{ Params: { file: string } }>(
    '/v1/packages/:file',
    {
      config: { auth: 'none' },
      schema: {
        params: Type.Object({ file: Type.String({ maxLength: 200 }) }),
        response: { '4xx': ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const entry = await index.entry(request.params.file);
      if (!entry) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find package ${request.params.file}: not served here`);
      void reply
        .header('content-type', 'application/vnd.debian.binary-package')
        .header('content-length', entry.size)
        .header('x-checksum-sha256', entry.sha256)
        // RFC 3230 instance digest, for generic clients.
        .header('digest', `sha-256=${Buffer.from(entry.sha256, 'hex').toString('base64')}`);
      return reply.send(createReadStream(join(opts.packagesDir, entry.file)));
    },
  );

  app.get(
    '/install.sh',
    { config: { auth: 'none' }, schema: { response: { '4xx': ErrorResponseSchema } } },
    async (_request, reply) => {
      const agent = await index.newestAgent();
      if (!agent) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to serve install.sh: no ballast-agent package in ${opts.packagesDir}`);
      const pin = opts.serverCertPem ? spkiPin(opts.serverCertPem()) : '';
      void reply.header('content-type', 'text/x-shellscript; charset=utf-8').header('cache-control', 'no-store');
      return renderInstallScript({ serverUrl: opts.serverUrl(), pin, pkg: agent });
    },
  );
}

/** Single-quotes a value for sh. */
function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The script; everything runs from `main` at the very end, so a truncated download runs nothing. */
export function renderInstallScript(options: { serverUrl: string; pin: string; pkg: PackageEntry }): string {
  return `#!/bin/sh
# Ballast agent installer, served by the controller at ${options.serverUrl}.
# Usage (as root): sh install.sh --token TOKEN --ca-hash sha256:HEX [--name NAME]
set -eu

SERVER=${shq(options.serverUrl)}
PIN=${shq(options.pin)}
PKG=${shq(options.pkg.file)}
PKG_SHA256=${shq(options.pkg.sha256)}

die() { echo "ballast install: $*" >&2; exit 1; }

main() {
  token=""; ca_hash=""; name=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --token) [ $# -ge 2 ] || die "--token needs a value"; token=$2; shift 2 ;;
      --ca-hash) [ $# -ge 2 ] || die "--ca-hash needs a value"; ca_hash=$2; shift 2 ;;
      --name) [ $# -ge 2 ] || die "--name needs a value"; name=$2; shift 2 ;;
      *) echo "ballast install: unknown argument $1" >&2; exit 2 ;;
    esac
  done
  if [ -z "$token" ] || [ -z "$ca_hash" ]; then
    echo "ballast install: usage: install.sh --token TOKEN --ca-hash sha256:HEX [--name NAME]" >&2
    exit 2
  fi
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  for tool in curl openssl sha256sum dpkg; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
  done
  arch=$(dpkg --print-architecture)
  [ "$arch" = amd64 ] || die "no package for architecture $arch"

  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT

  # 1. CA discovery, kubeadm style: fetched without trust, accepted only if it hashes to --ca-hash.
  if [ -n "$PIN" ]; then
    curl -fsS -k --pinnedpubkey "$PIN" "$SERVER/v1/join/ca" -o "$tmp/ca.json" || die "failed to fetch the CA from $SERVER"
  else
    curl -fsS -k "$SERVER/v1/join/ca" -o "$tmp/ca.json" || die "failed to fetch the CA from $SERVER"
  fi
  sed -e 's/.*"caCert":"//' -e 's/".*//' -e 's/\\\\n/\\n/g' "$tmp/ca.json" >"$tmp/ca.crt"
  got=$(openssl x509 -in "$tmp/ca.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
  [ "sha256:$got" = "$ca_hash" ] || die "failed to verify the controller's CA: its hash is sha256:$got, expected $ca_hash"

  # 2. The package, over TLS verified by that CA, checked against the SHA-256 baked in above.
  curl -fsS --cacert "$tmp/ca.crt" "$SERVER/v1/packages/$PKG" -o "$tmp/$PKG" || die "failed to download $PKG"
  echo "$PKG_SHA256  $tmp/$PKG" | sha256sum -c --status || die "failed to verify $PKG: checksum mismatch"

  # 3. Install; apt resolves missing dependencies from the host's own repositories.
  if ! dpkg -i "$tmp/$PKG"; then
    DEBIAN_FRONTEND=noninteractive apt-get install -f -y || die "failed to install $PKG"
  fi

  # 4. Enrol: pins the CA by the same hash, proves the token, starts the agent.
  if [ -n "$name" ]; then
    ballast-agent join --server "$SERVER" --token "$token" --ca-hash "$ca_hash" --name "$name"
  else
    ballast-agent join --server "$SERVER" --token "$token" --ca-hash "$ca_hash"
  fi
}

main "$@"
`;
}
