/**
 * Estimates how far the host clock is from the controller's, NTP style, from request/response
 * timestamps the agent already has (e.g. ping/pong). Certificates, token expiry and logs all
 * assume roughly agreeing clocks, so the agent reports the offset in its health snapshots.
 */

/** How many recent samples are considered; old ones go so a stepped clock is noticed quickly. */
export const CLOCK_SAMPLE_WINDOW = 16;

/** Clock offset estimator, see {@link createClockOffsetEstimator}. */
export interface ClockOffsetEstimator {
  /**
   * Records one exchange: agent wall clock when the request left (`sendTs`), the controller's wall
   * clock in its answer (`serverTime`), agent wall clock when the answer arrived (`recvTs`), all ms
   * since epoch. Impossible samples (non-finite, negative round trip) are ignored.
   */
  addSample(sendTs: number, serverTime: number, recvTs: number): void;
  /** Controller clock minus host clock in ms (positive: host is behind), or null before any sample. */
  offsetMs(): number | null;
}

interface Sample {
  offset: number;
  roundTrip: number;
}

/**
 * Creates an estimator that keeps the last {@link CLOCK_SAMPLE_WINDOW} samples and answers with the
 * offset of the one with the smallest round trip: offset = serverTime − (send + recv) / 2 assumes
 * the request and the answer took equally long, and the error of that assumption is bounded by half
 * the round trip, so the fastest exchange is the most trustworthy (the NTP clock filter idea).
 */
export function createClockOffsetEstimator(): ClockOffsetEstimator {
  const samples: Sample[] = [];

  return {
    addSample(sendTs: number, serverTime: number, recvTs: number): void {
      if (!Number.isFinite(sendTs) || !Number.isFinite(serverTime) || !Number.isFinite(recvTs)) return;
      const roundTrip = recvTs - sendTs;
      // A negative round trip means the local clock stepped backwards mid-exchange: no information.
      if (roundTrip < 0) return;
      samples.push({ offset: serverTime - (sendTs + recvTs) / 2, roundTrip });
      if (samples.length > CLOCK_SAMPLE_WINDOW) samples.shift();
    },
    offsetMs(): number | null {
      let best: Sample | undefined;
      for (const sample of samples) {
        // `<=` prefers the newest of equally fast samples, so the estimate follows a drifting clock.
        if (best === undefined || sample.roundTrip <= best.roundTrip) best = sample;
      }
      return best === undefined ? null : best.offset;
    },
  };
}
