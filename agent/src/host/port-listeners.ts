/**
 * The processes listening on a local TCP port, found the way `ss -ltnp` finds them: the inodes of
 * the listening sockets on that port in /proc/net/tcp and tcp6 (this network namespace only), then
 * every /proc/PID/fd link that points at one of them. Read-only; processes that end or whose fds
 * cannot be read while it looks are skipped.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** One listener: its PID and its comm (the kernel's 15-character process name). */
export interface PortListener {
  pid: number;
  comm: string;
}

/** TCP state 0A in /proc/net/tcp{,6} is LISTEN. */
const LISTEN = '0A';

/** One LISTEN socket of a /proc/net/tcp-style table: its port, local address (hex, as the table has it) and inode. */
export interface ListeningSocket {
  port: number;
  address: string;
  inode: string;
}

/** The LISTEN sockets of one /proc/net/tcp or tcp6 table. */
export function listeningSockets(table: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    if (local === undefined || cols[3] !== LISTEN) continue;
    const colon = local.lastIndexOf(':');
    const port = Number.parseInt(local.slice(colon + 1), 16);
    if (Number.isInteger(port)) out.push({ port, address: local.slice(0, colon), inode: cols[9] ?? '0' });
  }
  return out;
}

/** Inodes of the sockets listening on `port` in one table. */
function listeningInodes(table: string, port: number): string[] {
  return listeningSockets(table)
    .filter((s) => s.port === port && s.inode !== '0')
    .map((s) => s.inode);
}

async function readOrEmpty(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/** The processes that hold a socket listening on `port` (see the file comment). */
export async function portListeners(port: number, proc = '/proc'): Promise<PortListener[]> {
  const inodes = new Set([...listeningInodes(await readOrEmpty(`${proc}/net/tcp`), port), ...listeningInodes(await readOrEmpty(`${proc}/net/tcp6`), port)]);
  if (inodes.size === 0) return [];
  const found: PortListener[] = [];
  for (const entry of await readdir(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`${proc}/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`${proc}/${entry}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        found.push({ pid: Number(entry), comm: (await readOrEmpty(`${proc}/${entry}/comm`)).trim() });
        break;
      }
    }
  }
  return found;
}
