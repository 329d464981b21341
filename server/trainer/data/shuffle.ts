/**
 * Seeded, reproducible randomness for the data pipeline: the per-epoch shuffle of the training
 * set and the fixed choice of test digits shown in the prediction panel. The same seed always
 * gives the same run, on any machine and backend.
 */

/** Salt that separates the panel's random stream from the epoch shuffles'. */
const PANEL_SALT = 0x70616e6c; // "panl"

/**
 * Creates a mulberry32 generator: fast, 32-bit state, good enough for shuffling.
 *
 * @param seed - any number; only its low 32 bits are used.
 * @returns a function giving uniform floats in [0, 1), the same sequence for the same seed.
 */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes two integers into one 32-bit seed, so that nearby pairs such as (seed, epoch) and
 * (seed, epoch + 1) give unrelated generator streams.
 */
export function mixSeed(a: number, b: number): number {
  return fmix32((fmix32(a >>> 0) ^ Math.imul(b >>> 0, 0x9e3779b1)) >>> 0);
}

/** Throws a RangeError unless `value` is a non-negative safe integer. */
function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/**
 * The order in which to visit `n` training samples in one epoch (Fisher–Yates).
 *
 * @param n - number of samples.
 * @param seed - the run's seed.
 * @param epoch - the epoch number; each epoch gets its own order.
 * @returns a permutation of 0..n-1; identical for identical arguments.
 */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  assertCount('n', n);
  const rng = createRng(mixSeed(seed, epoch));
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  return perm;
}

/**
 * A fixed, seeded choice of `size` distinct test indices for the prediction panel.
 *
 * @param n - number of test samples to choose from.
 * @param size - how many to choose; at most `n`.
 * @param seed - the run's seed.
 * @returns `size` distinct indices in [0, n), in ascending order; identical for identical arguments.
 * @throws RangeError when `size > n` or either is not a non-negative integer.
 */
export function pickPanel(n: number, size: number, seed: number): number[] {
  assertCount('n', n);
  assertCount('size', size);
  if (size > n) throw new RangeError(`cannot pick ${size} panel digits from ${n} test samples`);
  const rng = createRng(mixSeed(seed, PANEL_SALT));
  const pool = new Uint32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  // Partial Fisher–Yates: the first `size` slots end up a uniform sample without replacement.
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  return Array.from(pool.subarray(0, size)).sort((a, b) => a - b);
}
