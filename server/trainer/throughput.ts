/**
 * Training throughput, defined once for the whole product: training samples per second of
 * training time over the last few seconds of it (a sliding window of recent batches). Pauses
 * and evaluation are not in it, because only batch times are recorded; steadier than one
 * batch's rate, and quick to follow real changes (a learning-rate change, another load).
 */
export interface ThroughputMeter {
  /** Records a batch of `samples` that took `ms` and returns samples/s over the window. */
  record(samples: number, ms: number): number;
}

/**
 * @param windowMs - training time the average spans (default 5 s; at least the latest batch)
 * @param maxBatches - bound on the batches held (tiny batches on a fast GPU)
 */
export function createThroughputMeter(windowMs = 5000, maxBatches = 4096): ThroughputMeter {
  const samples = new Float64Array(maxBatches);
  const times = new Float64Array(maxBatches);
  let head = 0;
  let count = 0;
  let sumSamples = 0;
  let sumMs = 0;
  return {
    record(n, ms) {
      if (count === maxBatches) {
        sumSamples -= samples[head];
        sumMs -= times[head];
        head = (head + 1) % maxBatches;
        count--;
      }
      const at = (head + count) % maxBatches;
      samples[at] = n;
      times[at] = ms;
      count++;
      sumSamples += n;
      sumMs += ms;
      // Drop the oldest batches while the rest still span the window.
      while (count > 1 && sumMs - times[head] >= windowMs) {
        sumSamples -= samples[head];
        sumMs -= times[head];
        head = (head + 1) % maxBatches;
        count--;
      }
      return sumMs > 0 ? Math.round((sumSamples / sumMs) * 1000) : 0;
    },
  };
}
