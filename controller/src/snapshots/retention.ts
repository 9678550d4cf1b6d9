/**
 * Which snapshots retention keeps: the newest `keepHourly`, plus the newest snapshot of each of the
 * `keepDaily` most recent UTC days that have one (today included). Pure, so the store and the S3
 * target apply the same rule. Snapshots that failed verification are never counted as kept ones
 * (a bad snapshot must not push a good one out) and are deleted with the rest.
 */

/** The fields retention reads. */
export interface RetainedItem {
  id: string;
  createdAt: number;
  bad: boolean;
}

/** The ids to delete, given every item of one cluster. */
export function expiredSnapshots(items: readonly RetainedItem[], policy: { keepHourly: number; keepDaily: number }): string[] {
  const good = items.filter((i) => !i.bad).sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const keep = new Set(good.slice(0, policy.keepHourly).map((i) => i.id));
  const days = new Set<string>();
  for (const item of good) {
    if (days.size >= policy.keepDaily) break;
    const day = new Date(item.createdAt).toISOString().slice(0, 10);
    if (days.has(day)) continue;
    days.add(day);
    keep.add(item.id);
  }
  return items.filter((i) => !keep.has(i.id)).map((i) => i.id);
}
