/**
 * Training throughput over a sliding window of recent batches: steadier than one batch's
 * rate, and quick to follow real changes (pause, a learning-rate change, another load).
 */
export interface ThroughputMeter {
  /** Records a batch of `samples` that took `ms` and returns samples/s over the window. */
  record(samples: number, ms: number): number;
}

export function createThroughputMeter(windowSize = 20): ThroughputMeter {
  const samples = new Float64Array(windowSize);
  const times = new Float64Array(windowSize);
  let next = 0;
  let filled = 0;
  let sumSamples = 0;
  let sumMs = 0;
  return {
    record(n, ms) {
      if (filled === windowSize) {
        sumSamples -= samples[next];
        sumMs -= times[next];
      } else {
        filled++;
      }
      samples[next] = n;
      times[next] = ms;
      sumSamples += n;
      sumMs += ms;
      next = (next + 1) % windowSize;
      return sumMs > 0 ? Math.round((sumSamples / sumMs) * 1000) : 0;
    },
  };
}
