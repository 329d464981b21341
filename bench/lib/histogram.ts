/**
 * Exact latency distributions for the benchmarks. Both ends of a latency are `Date.now()`
 * readings (whole milliseconds), so a count per millisecond is exact, merges across
 * processes by adding counts, and stays small however many samples there are (500 watchers
 * × 2,000 points is a million samples but only a few hundred distinct values).
 */

/** A histogram as it crosses a process boundary: `[ms, count]` pairs, ascending by ms. */
export type HistogramData = Array<[number, number]>;

/** Counts of whole-millisecond values; negative values (clock steps) count as 0. */
export class Histogram {
  private counts = new Map<number, number>();
  private total = 0;

  /** Records one value in ms (rounded to the nearest whole ms). */
  add(ms: number): void {
    const v = Math.max(0, Math.round(ms));
    this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
    this.total++;
  }

  /** Adds every count of `other` (a Histogram or its serialised form). */
  merge(other: Histogram | HistogramData): this {
    const pairs = other instanceof Histogram ? other.toJSON() : other;
    for (const [v, c] of pairs) {
      this.counts.set(v, (this.counts.get(v) ?? 0) + c);
      this.total += c;
    }
    return this;
  }

  /** Number of samples. */
  get count(): number {
    return this.total;
  }

  /** The q-quantile (0 ≤ q ≤ 1, nearest-rank), or NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (const [v, c] of this.toJSON()) {
      seen += c;
      if (seen >= rank) return v;
    }
    return this.max;
  }

  /** Largest value, or NaN when empty. */
  get max(): number {
    return this.total === 0 ? Number.NaN : Math.max(...this.counts.keys());
  }

  /** Mean value, or NaN when empty. */
  get mean(): number {
    if (this.total === 0) return Number.NaN;
    let sum = 0;
    for (const [v, c] of this.counts) sum += v * c;
    return sum / this.total;
  }

  /** How many samples are strictly above `ms`. */
  above(ms: number): number {
    let n = 0;
    for (const [v, c] of this.counts) if (v > ms) n += c;
    return n;
  }

  /** The serialised form, ascending by value. */
  toJSON(): HistogramData {
    return [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
  }
}

/** `p50 / p99 / max` of a histogram, in whole ms ("–" when empty). */
export function summarise(h: Histogram): string {
  if (h.count === 0) return '–';
  return `${h.quantile(0.5)} / ${h.quantile(0.99)} / ${h.max}`;
}

/** An integer with thousands separators. */
export const int = (n: number) =>
  Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';

/** Percentage with one decimal. */
export const pct = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} %` : '–');

/**
 * Renders rows as a plain-text table with a header rule; columns are left-aligned except
 * those listed in `right`.
 */
export function table(
  header: string[],
  rows: string[][],
  right: ReadonlySet<number> = new Set(),
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n');
}

/** Weighted samples/s over epochs: total samples over total training time. */
export function overallSamplesPerSec(
  epochs: ReadonlyArray<{ samplesPerSec: number; trainMs: number }>,
): number {
  let samples = 0;
  let ms = 0;
  for (const e of epochs) {
    samples += (e.samplesPerSec * e.trainMs) / 1000;
    ms += e.trainMs;
  }
  return ms > 0 ? (samples * 1000) / ms : Number.NaN;
}
