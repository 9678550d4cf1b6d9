/**
 * Streaming sha256, in one place: the artifact mirror and the agent's `artifact` module hash what
 * they download while it streams (k0s downloader.go: hash while streaming, decide after), and the
 * package index hashes the .deb files it serves. A file or upload is never read into memory whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

/** sha256 (lower-case hex) of a file's content, streamed. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  // A Hash is itself a writable stream: no meter needed when nothing passes on.
  await pipeline(createReadStream(path), hash, ...(signal === undefined ? [] : [{ signal }]));
  return hash.digest('hex');
}
