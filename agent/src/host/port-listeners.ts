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

const LISTEN = '0A';

/** Inodes of the sockets listening on `port` in one /proc/net/tcp-style table. */
function listeningInodes(table: string, port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
    const [local, , state] = cols.slice(1, 4);
    const inode = cols[9];
    if (local?.endsWith(`:${hexPort}`) && state === LISTEN && inode !== undefined && inode !== '0') inodes.add(inode);
  }
  return inodes;
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
