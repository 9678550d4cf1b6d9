import type { ControllerMetrics } from '../metrics.js';

/** A list cut at its byte budget: the kept items, and `truncated: true` only when some were cut. */
export interface BudgetedPage<T> {
  items: T[];
  truncated?: true;
}

/**
 * Keeps items, in their order, while their JSON fits `maxBytes` (shared/src/paging.ts). `keep`
 * says which end survives: 'first' for pages read forwards (`after=` cursors, newest-first
 * lists), 'last' for "the newest N, oldest first" (events without `after`). At least one item is
 * kept so that paging always moves on. Each item is measured once by serialising it: the
 * response is serialised anyway, and a page is at most a few MiB.
 */
export function capByBytes<T>(items: readonly T[], maxBytes: number, keep: 'first' | 'last' = 'first'): BudgetedPage<T> {
  const ordered = keep === 'first' ? items : [...items].reverse();
  const kept: T[] = [];
  let bytes = 2; // the enclosing []
  for (const item of ordered) {
    bytes += Buffer.byteLength(JSON.stringify(item)) + 1;
    if (bytes > maxBytes && kept.length > 0) break;
    kept.push(item);
  }
  if (keep === 'last') kept.reverse();
  return kept.length === items.length ? { items: kept } : { items: kept, truncated: true };
}

/** {@link capByBytes}, counting a cut page in `ballast_list_truncated_total{route}`. */
export function capCounted<T>(
  metrics: ControllerMetrics | undefined,
  route: string,
  items: readonly T[],
  maxBytes: number,
  keep: 'first' | 'last' = 'first',
): BudgetedPage<T> {
  const page = capByBytes(items, maxBytes, keep);
  if (page.truncated === true) metrics?.listTruncated.inc({ route });
  return page;
}
