/** Display helpers: ages, durations and days, as short as a table cell needs. */

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago"; "never" for null. */
export function ago(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** "850 ms", "12.3 s", "4 min 5 s". */
export function duration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Local time of day with seconds. */
export function clock(iso: string | null): string {
  return iso === null ? '' : new Date(iso).toLocaleTimeString([], { hour12: false });
}

/** The severity of days left, as the alert rules see it: < 7 critical, < 30 warning. */
export function daysClass(days: number | null): 'ok' | 'warn' | 'crit' {
  if (days === null || days >= 30) return 'ok';
  return days >= 7 ? 'warn' : 'crit';
}

/** "812 B", "4.1 KiB", "25.0 MiB", "1.20 GiB" (binary units, as etcd reports its database). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
