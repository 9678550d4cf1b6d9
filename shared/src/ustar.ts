/**
 * The plain POSIX ustar format, both ways, for container image archives: the lab's image builder
 * writes byte-identical archives with it (same input ⇒ same sha256 and image ID), and the agent's
 * `image` module reads an archive's member list with it before `ctr` sees the file.
 *
 * Deliberately only the plain subset: regular files and directories, names up to 100 bytes plus the
 * 155-byte prefix. The reader refuses everything else (pax and GNU long-name headers, links,
 * devices): a pax header can rename the next member, so a reader that skipped it would check one
 * archive and `ctr` (Go's archive/tar) would import another.
 */
import { open } from 'node:fs/promises';
import { BallastError } from './errors.js';

/** Tar's block size. */
export const BLOCK = 512;
/** Largest member the 11-digit octal size field holds (8 GiB − 1). */
export const MAX_USTAR_SIZE = 0o77777777777;

/** One member to write. `mode` is the permission bits; owner is always root (0:0, no names). */
export interface UstarEntry {
  name: string;
  type: 'file' | 'dir';
  mode: number;
  size: number;
}

/** One member as read: where its data starts in the file and how long it is. */
export interface UstarMember {
  name: string;
  type: 'file' | 'dir';
  offset: number;
  size: number;
}

function octal(value: number, width: number): string {
  // width − 1 digits and a NUL, as GNU tar and Go write them.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a name into ustar's prefix and name fields; throws when it does not fit. */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  const cut = name.lastIndexOf('/', 155);
  if (cut > 0 && Buffer.byteLength(name.slice(0, cut)) <= 155 && Buffer.byteLength(name.slice(cut + 1)) <= 100) {
    return { prefix: name.slice(0, cut), base: name.slice(cut + 1) };
  }
  throw new BallastError('BALLAST_ERR_VALIDATION', `failed to write tar member ${name.slice(0, 64)}…: the name does not fit a ustar header`);
}

/**
 * The 512-byte header of `entry`: mtime 0, uid/gid 0 with empty owner names, so the bytes depend on
 * name, type, mode and size alone. Directory names get their trailing slash here.
 */
export function ustarHeader(entry: UstarEntry): Buffer {
  if (!Number.isSafeInteger(entry.size) || entry.size < 0 || entry.size > MAX_USTAR_SIZE) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to write tar member ${entry.name}: size ${entry.size} is out of range`);
  }
  const name = entry.type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  const { prefix, base } = splitName(name);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(base, 0, 100, 'utf8');
  h.write(octal(entry.mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(entry.type === 'dir' ? 0 : entry.size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii');
  h.write(entry.type === 'dir' ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\u000000', 257, 8, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  // The checksum is computed with its own field as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function ustarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** The two zero blocks that end an archive. */
export const USTAR_END = Buffer.alloc(2 * BLOCK, 0);

/** Bytes a member takes in an archive: its header plus its data padded to a block. */
export function ustarMemberBytes(size: number): number {
  return BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function parseOctal(block: Buffer, start: number, length: number, what: string): number {
  const text = cString(block, start, length).trim();
  if (!/^[0-7]{1,12}$/.test(text)) throw new Error(`its ${what} field is not octal`);
  return Number.parseInt(text, 8);
}

/** Options of {@link readUstarMembers}. */
export interface ReadUstarOptions {
  /** Refuse archives with more members than this (default 4096). */
  maxMembers?: number;
  /** For messages: "image archive registry.k8s.io/pause:3.10.2". */
  what: string;
}

/**
 * Lists the members of a plain ustar archive by reading only its headers (the data is skipped by
 * offset). Names lose a leading `./`; `..`, absolute names, duplicates and any type other than a
 * regular file or a directory are refused with BALLAST_ERR_VALIDATION.
 */
export async function readUstarMembers(path: string, options: ReadUstarOptions): Promise<UstarMember[]> {
  const maxMembers = options.maxMembers ?? 4096;
  const refuse = (why: string) => new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${options.what}: ${why}`);
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const members: UstarMember[] = [];
    const seen = new Set<string>();
    const block = Buffer.alloc(BLOCK);
    let offset = 0;
    for (;;) {
      const { bytesRead } = await handle.read(block, 0, BLOCK, offset);
      if (bytesRead < BLOCK) throw refuse(`the archive ends inside a header at byte ${offset} (truncated)`);
      if (block.every((b) => b === 0)) return members;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
      let size: number;
      let stored: number;
      try {
        stored = parseOctal(block, 148, 8, 'checksum');
        size = parseOctal(block, 124, 12, 'size');
      } catch (err) {
        throw refuse(`the header at byte ${offset} is not a ustar header: ${(err as Error).message}`);
      }
      if (stored !== sum) throw refuse(`the header at byte ${offset} has a bad checksum`);
      const flag = String.fromCharCode(block[156]!);
      const prefix = block.subarray(257, 262).toString('ascii') === 'ustar' ? cString(block, 345, 155) : '';
      const raw = prefix === '' ? cString(block, 0, 100) : `${prefix}/${cString(block, 0, 100)}`;
      const type = flag === '0' || flag === '\0' ? 'file' : flag === '5' ? 'dir' : null;
      if (type === null) throw refuse(`member ${JSON.stringify(raw.slice(0, 100))} has tar type ${JSON.stringify(flag)}; only plain files and directories are accepted`);
      const name = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (type === 'file' && (name === '' || name.startsWith('/') || name.split('/').some((s) => s === '..' || s === '.' || s === ''))) {
        throw refuse(`member ${JSON.stringify(raw.slice(0, 100))} is not a plain relative name`);
      }
      if (name !== '' && seen.has(name)) throw refuse(`member ${name} appears twice`);
      seen.add(name);
      const dataOffset = offset + BLOCK;
      if (dataOffset + size > fileSize) throw refuse(`member ${name} runs past the end of the archive (truncated)`);
      if (name !== '') members.push({ name, type, offset: dataOffset, size: type === 'dir' ? 0 : size });
      if (members.length > maxMembers) throw refuse(`more than ${maxMembers} members`);
      offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    await handle.close();
  }
}

/** Reads one member's data, refusing members larger than `maxBytes`. */
export async function readUstarMember(path: string, member: UstarMember, maxBytes: number, what: string): Promise<Buffer> {
  if (member.size > maxBytes) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${what}: member ${member.name} is ${member.size} bytes, more than the ${maxBytes} accepted`);
  }
  const handle = await open(path, 'r');
  try {
    const data = Buffer.alloc(member.size);
    const { bytesRead } = await handle.read(data, 0, member.size, member.offset);
    if (bytesRead !== member.size) throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${what}: member ${member.name} is truncated`);
    return data;
  } finally {
    await handle.close();
  }
}
