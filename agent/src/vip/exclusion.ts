/**
 * The persistent exclusion marker: while /var/lib/ballast/vip-excluded exists, this host does not
 * campaign for the VIP (effective candidate = vip.yaml `candidate` && !excluded). It lives in
 * /var/lib (not /run) so maintenance survives agent restarts and reboots, and it is a plain file so
 * it works without the controller: `touch` it on the host to exclude, remove it to include; the
 * manager notices within its 1 s config poll. Only its existence counts; the content (who and
 * when) is for people.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../../../shared/src/atomic-file.js';

export const VIP_EXCLUDED_PATH = '/var/lib/ballast/vip-excluded';

/** True when the marker exists (any content). Errors other than ENOENT propagate. */
export async function isExcluded(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Writes the marker atomically (temp + rename + fsync): a crash leaves it whole or absent. */
export async function writeExcluded(file: string, info: { host: string; at: number; reason: string }): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify({ host: info.host, excludedAt: new Date(info.at).toISOString(), reason: info.reason })}\n`, 0o644);
}

/** Removes the marker; absent is fine. */
export async function removeExcluded(file: string): Promise<void> {
  await rm(file, { force: true });
}

/**
 * Removes the marker only when its recorded reason starts with `prefix` (the self-fence lifts its
 * own exclusion; one an operator or a replacement wrote stays). Resolves with whether it removed it.
 */
export async function removeExcludedIfReason(file: string, prefix: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  let reason = '';
  try {
    const parsed = JSON.parse(text) as { reason?: unknown };
    reason = typeof parsed.reason === 'string' ? parsed.reason : '';
  } catch {
    return false; // hand-made (touch): not ours
  }
  if (!reason.startsWith(prefix)) return false;
  await rm(file, { force: true });
  return true;
}
