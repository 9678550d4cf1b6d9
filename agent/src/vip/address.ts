/**
 * The real {@link AddressPort} and {@link ArpPort}: `ip` and `arping` through the agent's
 * ExecPort (argv, no shell). `netns` runs them in a named network namespace (integration tests
 * and the lab); production leaves it unset.
 */
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { ExecPort } from '../host/ports.js';
import { tail } from '../host/exec.js';
import type { AddressPort, ArpPort, InterfaceAddress } from './ports.js';

/** iputils-arping (Debian's `iputils-arping`); the `arping` package's binary takes other flags. */
export const ARPING_PATH = '/usr/bin/arping';
/** `ip` prints this lifetime for "forever". */
const FOREVER = 4294967295;
/** Bounds `ip addr del` and `ip addr show`; they take milliseconds. */
const IP_TIMEOUT_MS = 5_000;
/** Output of `ip -j addr show dev IF` beyond this is not one interface's addresses. */
const MAX_IP_JSON_BYTES = 256 * 1024;

const IpAddrShowSchema = Type.Array(
  Type.Object({
    ifname: Type.Optional(Type.String()),
    addr_info: Type.Optional(
      Type.Array(
        Type.Object({
          family: Type.Optional(Type.String()),
          local: Type.Optional(Type.String()),
          prefixlen: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
          valid_life_time: Type.Optional(Type.Integer({ minimum: 0 })),
        }),
      ),
    ),
  }),
  { maxItems: 4 },
);
const checkIpJson = TypeCompiler.Compile(IpAddrShowSchema);

/** Parses `ip -j addr show dev IF` output into its IPv4 addresses; throws on anything unexpected. */
export function parseIpAddrJson(text: string): InterfaceAddress[] {
  if (text.length > MAX_IP_JSON_BYTES) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to list addresses: ip printed more than ${MAX_IP_JSON_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? '[]' : text);
  } catch (err) {
    throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to list addresses: ip printed invalid JSON: ${messageOf(err)}`, { cause: err });
  }
  if (!checkIpJson.Check(value)) {
    const first = [...checkIpJson.Errors(value)][0];
    throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to list addresses: unexpected ip JSON at ${first?.path || '/'}: ${first?.message ?? '?'}`);
  }
  const out: InterfaceAddress[] = [];
  for (const link of value) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || a.local === undefined || a.prefixlen === undefined) continue;
      out.push({ address: a.local, prefixLength: a.prefixlen, validLifetimeSeconds: a.valid_life_time === undefined || a.valid_life_time >= FOREVER ? null : a.valid_life_time });
    }
  }
  return out;
}

/** Options of {@link createIpAddressPort}. */
export interface IpAddressPortOptions {
  exec: ExecPort;
  address: string;
  prefixLength: number;
  interface: string;
  lifetimeSeconds: number;
  /** Run in this network namespace (`ip -n NS`); unset in production. */
  netns?: string;
}

/** `ip` over the ExecPort. Always deletes with the prefix it added (/24 and /32 copies are different addresses). */
export function createIpAddressPort(opts: IpAddressPortOptions): AddressPort {
  const ip = (args: string[]) => ['ip', ...(opts.netns === undefined ? [] : ['-n', opts.netns]), ...args];
  const cidr = `${opts.address}/${opts.prefixLength}`;
  const run = async (what: string, args: string[], timeoutMs: number) => {
    const r = await opts.exec(ip(args), { timeoutMs });
    return { ...r, what };
  };
  return {
    async renew({ timeoutMs }) {
      const lft = String(opts.lifetimeSeconds);
      const r = await run('renew', ['addr', 'replace', cidr, 'dev', opts.interface, 'valid_lft', lft, 'preferred_lft', lft], timeoutMs);
      if (r.code !== 0) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to add ${cidr} to ${opts.interface}: ip exited ${r.code}: ${tail(r.stderr, 3)}`);
    },
    async remove() {
      const r = await run('remove', ['addr', 'del', cidr, 'dev', opts.interface], IP_TIMEOUT_MS);
      if (r.code === 0) return true;
      // Not there (expired by its lifetime, or never added) — the state we want. iproute2 6.x with
      // extack prints "ipv4: Address not found"; older ones print EADDRNOTAVAIL's text.
      if (/Address not found|Cannot assign requested address/i.test(r.stderr)) return false;
      throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to remove ${cidr} from ${opts.interface}: ip exited ${r.code}: ${tail(r.stderr, 3)}`);
    },
    async list() {
      const r = await run('list', ['-j', 'addr', 'show', 'dev', opts.interface], IP_TIMEOUT_MS);
      if (r.code !== 0) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to list addresses of ${opts.interface}: ip exited ${r.code}: ${tail(r.stderr, 3)}`);
      return parseIpAddrJson(r.stdout);
    },
  };
}

/** Options of {@link createArpingPort}. */
export interface ArpingPortOptions {
  exec: ExecPort;
  address: string;
  interface: string;
  log: Logger;
  /** Gratuitous ARPs per burst; default 3 (one a second: a switch or peer that missed one gets the next). */
  count?: number;
  netns?: string;
  arpingPath?: string;
}

/**
 * Gratuitous ARP (`arping -U -c N -I IF ADDR`) without waiting: iputils-arping spaces its packets a
 * second apart, and a moved VIP answers again 20–40 ms after the first one (LAB.md). A missing
 * arping is a warning (clients then keep the old MAC for up to ~50 s), never fatal.
 */
export function createArpingPort(opts: ArpingPortOptions): ArpPort {
  const count = opts.count ?? 3;
  const path = opts.arpingPath ?? ARPING_PATH;
  const argv = [...(opts.netns === undefined ? [] : ['ip', 'netns', 'exec', opts.netns]), path, '-U', '-c', String(count), '-I', opts.interface, opts.address];
  let warnedMissing = false;
  return {
    announce() {
      opts
        .exec(argv, { timeoutMs: count * 1_000 + 5_000 })
        .then((r) => {
          if (r.code !== 0) opts.log.warn({ code: r.code, stderr: tail(r.stderr, 3) }, `gratuitous ARP for ${opts.address} failed; clients may keep a stale MAC for a while`);
        })
        .catch((err: unknown) => {
          if (warnedMissing) return;
          warnedMissing = /ENOENT/.test(messageOf(err));
          opts.log.warn({ err: messageOf(err), path }, `could not send gratuitous ARP for ${opts.address} (is iputils-arping installed?)`);
        });
    },
  };
}
