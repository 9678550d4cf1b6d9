/**
 * The last N lease-renewal round trips, for status (ballastctl vip status, the controller's
 * `ballast_vip_renew_rtt_seconds`). A fixed-size ring: the holder renews every 500 ms, so 240
 * samples are the last two minutes, and quantiles sort at most that many numbers on request.
 */

/** A bounded window of samples with nearest-rank quantiles. */
export interface RttWindow {
  add(ms: number): void;
  /** Nearest-rank quantile (q in (0, 1]) over the window, or null when it is empty. */
  quantile(q: number): number | null;
  size(): number;
  clear(): void;
}

/** Default window: two minutes of 500 ms renewals. */
export const RTT_WINDOW_SIZE = 240;

export function createRttWindow(capacity = RTT_WINDOW_SIZE): RttWindow {
  const ring = new Float64Array(capacity);
  let next = 0;
  let count = 0;
  return {
    add(ms) {
      if (!Number.isFinite(ms) || ms < 0) return;
      ring[next] = ms;
      next = (next + 1) % capacity;
      count = Math.min(count + 1, capacity);
    },
    quantile(q) {
      if (count === 0) return null;
      const sorted = ring.slice(0, count).sort();
      const rank = Math.min(count, Math.max(1, Math.ceil(q * count)));
      return sorted[rank - 1] ?? null;
    },
    size: () => count,
    clear() {
      next = 0;
      count = 0;
    },
  };
}
