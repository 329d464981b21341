/**
 * Unit tests for app/lib/series.ts: debiased EMA and min/max downsampling,
 * the zoomed-range binary search and the robust y extent. Pure, deterministic, no DOM.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emaDebiased,
  emaRun,
  emaStart,
  minMaxBuckets,
  niceExtent,
  visibleRange,
} from '../../app/lib/series';

/** Closed form of the debiased EMA at every index: Σ (1-w) w^(n-i) x_i / (1 - w^n). */
function closedForm(xs: number[], w: number): number[] {
  return xs.map((_, n) => {
    let sum = 0;
    for (let i = 0; i <= n; i++) sum += (1 - w) * w ** (n - i) * xs[i];
    return sum / (1 - w ** (n + 1));
  });
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, eps = 1e-9): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= eps * Math.max(1, Math.abs(expected[i])),
      `index ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/** 10,000 points of gentle noise around 1 with one spike of 50 at index 6,123. */
function spiky(): { xs: Float64Array; ys: Float64Array; spike: number } {
  const n = 10_000;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 16807) % 2147483647;
    xs[i] = i + 1;
    ys[i] = 1 + (seed / 2147483647 - 0.5) * 0.1;
  }
  ys[6123] = 50;
  return { xs, ys, spike: 6123 };
}

function assertIncreasing(indices: Uint32Array, xs: ArrayLike<number>): void {
  for (let i = 1; i < indices.length; i++) {
    assert.ok(indices[i] > indices[i - 1], `indices not increasing at ${i}`);
    assert.ok(xs[indices[i]] >= xs[indices[i - 1]], `x not monotonic at ${i}`);
  }
}

describe('emaDebiased', () => {
  test('a constant series stays exactly that constant at every weight (debiasing)', () => {
    for (const w of [0, 0.3, 0.6, 0.9, 0.99]) {
      assertClose(emaDebiased(new Array(200).fill(3.25), w), new Array(200).fill(3.25), 1e-12);
    }
  });

  test('matches the closed form on a known sequence', () => {
    const xs = [2.3, 1.9, 1.2, 0.8, 0.95, 0.4, 0.35, 0.5, 0.2, 0.1];
    for (const w of [0.25, 0.6, 0.95]) assertClose(emaDebiased(xs, w), closedForm(xs, w));
    // First value is the value itself (that is what debiasing buys), second a simple mix.
    const s = emaDebiased([4, 2], 0.5);
    assert.equal(s[0], 4);
    assert.ok(Math.abs(s[1] - (0.25 * 4 + 0.5 * 2) / 0.75) < 1e-12);
  });

  test('weight 0 is the identity', () => {
    const xs = [5, -1, 0.25, 1e9, 3];
    assert.deepEqual(Array.from(emaDebiased(xs, 0)), xs);
  });

  test('non-finite values pass through and do not poison the average', () => {
    const s = emaDebiased([1, NaN, 3, Infinity, 5], 0.5);
    assert.ok(Number.isNaN(s[1]));
    assert.equal(s[3], Infinity);
    assertClose([s[0], s[2], s[4]], closedForm([1, 3, 5], 0.5));
  });

  test('incremental runs equal one run over the whole series', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => Math.sin(i / 10) + i / 500);
    const whole = emaDebiased(xs, 0.9);
    const out = new Float64Array(xs.length);
    const state = emaStart(0.9);
    for (let from = 0; from < xs.length; from += 137)
      emaRun(state, xs, from, Math.min(xs.length, from + 137), out);
    assertClose(out, whole, 1e-15);
  });
});

describe('downsampling', () => {
  for (const [name, run] of [
    [
      'minMaxBuckets',
      (xs: Float64Array, ys: Float64Array, n: number) => ({
        idx: minMaxBuckets(xs, ys, n),
        max: 4 * n,
      }),
    ],
  ] as const) {
    test(`${name}: keeps first and last, the spike, at most the requested count, monotonic in x`, () => {
      const { xs, ys, spike } = spiky();
      for (const n of [2, 3, 10, 500, 1640]) {
        const { idx, max } = run(xs, ys, n);
        assert.ok(idx.length <= max, `${idx.length} > ${max}`);
        assert.equal(idx[0], 0);
        assert.equal(idx[idx.length - 1], xs.length - 1);
        assertIncreasing(idx, xs);
        if (n >= 10) assert.ok(idx.includes(spike), `spike lost at ${n}`);
      }
    });

    test(`${name}: returns every index when the series is already small`, () => {
      const xs = Float64Array.from([1, 2, 3]);
      assert.deepEqual(Array.from(run(xs, xs, 3).idx), [0, 1, 2]);
      assert.equal(run(new Float64Array(0), new Float64Array(0), 10).idx.length, 0);
    });
  }

  test("minMaxBuckets keeps each bucket's first, min, max, last within a sub-range", () => {
    const xs = Float64Array.from({ length: 100 }, (_, i) => i);
    const ys = Float64Array.from({ length: 100 }, (_, i) => (i === 30 ? -5 : i === 70 ? 9 : 0));
    const idx = minMaxBuckets(xs, ys, 2, 10, 90);
    assert.deepEqual(Array.from(idx), [10, 30, 49, 50, 70, 89]);
  });

  test('minMaxBuckets ignores NaN for min/max and survives out-of-order x', () => {
    const xs = Float64Array.from({ length: 50 }, (_, i) => (i === 20 ? 3 : i));
    const ys = Float64Array.from({ length: 50 }, (_, i) => (i % 7 === 0 ? NaN : i % 5));
    const idx = minMaxBuckets(xs, ys, 4);
    assert.ok(idx.length <= 20);
    assert.equal(idx[idx.length - 1], 49);
    for (const i of idx) assert.ok(i < 50);
  });

  test('minMaxBuckets keeps a gap (a diverged stretch) inside a bucket, so the drawn line breaks', () => {
    const xs = Float64Array.from({ length: 1000 }, (_, i) => i);
    // One NaN deep inside the 3rd of 10 buckets, between finite first/min/max/last.
    const ys = Float64Array.from({ length: 1000 }, (_, i) => (i === 250 ? NaN : Math.sin(i)));
    const idx = Array.from(minMaxBuckets(xs, ys, 10));
    assert.ok(idx.includes(250), 'the NaN index is kept');
    assert.ok(idx.length <= 41, `${idx.length} indices for 10 buckets, one gap`);
    assert.deepEqual(
      idx,
      [...idx].sort((a, b) => a - b),
      'in index order',
    );
    assert.equal(new Set(idx).size, idx.length, 'no repeats');
    // Without the gap it is the plain M4: four per bucket at most.
    assert.ok(
      minMaxBuckets(
        xs,
        Float64Array.from(ys, (y) => (Number.isNaN(y) ? 0 : y)),
        10,
      ).length <= 40,
    );
  });
});

describe('visibleRange', () => {
  const xs = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  test('includes one neighbour each side of the view', () => {
    assert.deepEqual(visibleRange(xs, 3.5, 6.5), { start: 2, end: 7 });
    assert.deepEqual(visibleRange(xs, 3, 6), { start: 1, end: 7 });
  });
  test('clamps at the edges and covers the whole series when zoomed out', () => {
    assert.deepEqual(visibleRange(xs, 0, 100), { start: 0, end: 10 });
    assert.deepEqual(visibleRange(xs, 1, 10), { start: 0, end: 10 });
    assert.deepEqual(visibleRange(xs, 9.5, 20), { start: 8, end: 10 });
  });
  test('is empty outside the data and for an empty series; honours a length', () => {
    assert.deepEqual(visibleRange(xs, 11, 20), { start: 10, end: 10 });
    assert.deepEqual(visibleRange(xs, -5, 0.5), { start: 0, end: 0 });
    assert.deepEqual(visibleRange(new Float64Array(0), 0, 1), { start: 0, end: 0 });
    assert.deepEqual(visibleRange(xs, 0, 100, 4), { start: 0, end: 4 });
  });
});

describe('niceExtent', () => {
  test('ignores NaN and ±Infinity and pads the span', () => {
    const [lo, hi] = niceExtent([NaN, 1, Infinity, 3, -Infinity, 2], { pad: 0 });
    assert.deepEqual([lo, hi], [1, 3]);
    const [plo, phi] = niceExtent([1, 3]);
    assert.ok(plo < 1 && phi > 3);
  });
  test('nothing finite gives [0, 1]; a constant gets a non-zero span', () => {
    assert.deepEqual(niceExtent([NaN, Infinity]), [0, 1]);
    assert.deepEqual(niceExtent([]), [0, 1]);
    const [lo, hi] = niceExtent([2, 2, 2]);
    assert.ok(lo < 2 && hi > 2);
  });
  test('clipTop drops one early loss spike so the curve is not flattened', () => {
    const ys = Array.from({ length: 1000 }, (_, i) => 0.5 + (i % 10) / 100);
    ys[3] = 80;
    const [, full] = niceExtent(ys, { pad: 0 });
    const [lo, hi] = niceExtent(ys, { pad: 0, clipTop: 0.005 });
    assert.equal(full, 80);
    assert.ok(hi >= 0.59 && hi < 0.6, `clipped top ${hi}`);
    assert.equal(lo, 0.5);
  });
  test('clipBottom drops the lowest values; clipping honours start/end', () => {
    const ys = Array.from({ length: 1000 }, (_, i) => (i < 3 ? -100 : 10 + (i % 3)));
    const [lo] = niceExtent(ys, { pad: 0, clipBottom: 0.005 });
    assert.ok(lo > 9.9 && lo <= 10, `clipped bottom ${lo}`);
    assert.deepEqual(niceExtent(ys, { start: 3, end: 6, pad: 0 }), [10, 12]);
  });
});

describe('the elapsed-time axis across a pause', () => {
  test('the line breaks where the trainer paused (not between epochs), and is whole on the step axis', async () => {
    const { SeriesColumns, PAUSE_MS } = await import('../../app/charts/batchColumns');
    const { drawLine } = await import('../../app/charts/batchDraw');
    const at = [
      0,
      100,
      200,
      300,
      300 + PAUSE_MS + 5000,
      300 + PAUSE_MS + 5100,
      300 + 2 * PAUSE_MS + 9000,
    ];
    const epochs = [1, 1, 1, 1, 1, 1, 2]; // the last gap is an epoch end's evaluation
    const points = at.map((time, i) => ({
      seq: i + 1,
      step: i + 1,
      epoch: epochs[i],
      batch: i,
      loss: 1,
      accuracy: 50,
      learningRate: 0.01,
      samplesPerSec: 1,
      time,
    }));
    const moves = (axis: 'time' | 'step') => {
      const c = new SeriesColumns();
      c.sync({ points }, axis, 'loss', 7, 0);
      const calls: string[] = [];
      const ctx = {
        beginPath() {},
        moveTo: () => calls.push('M'),
        lineTo: () => calls.push('L'),
        stroke() {},
        arc() {},
        fill() {},
        set globalAlpha(_: number) {},
        set strokeStyle(_: string) {},
        set lineWidth(_: number) {},
      };
      const line = (v: number) => v;
      drawLine(
        ctx as unknown as CanvasRenderingContext2D,
        c.xs,
        c.ys,
        Uint32Array.from({ length: c.length }, (_, i) => i),
        line as never,
        line as never,
        { colour: '#000', width: 1, alpha: 1 },
        c.breaks,
      );
      return calls.join('');
    };
    assert.equal(moves('time'), 'MLLLMLL', 'one break, at the pause; none at the epoch end');
    assert.equal(moves('step'), 'MLLLLLL');
  });

  test('a learning rate held constant after a pause is drawn whole when it comes as buckets (one break, at the pause)', async () => {
    const { SeriesColumns } = await import('../../app/charts/batchColumns');
    const { drawLine } = await import('../../app/charts/batchDraw');
    const { bucketize } = await import('../../server/columns');
    // 100 ms a step, a 20 s pause after step 400 during which the rate went 0.01 → 0.05; the
    // run page gets the first 1,024 steps raw and the rest up to step 3,000 as buckets of 64
    // steps (6.4 s each, longer than a pause), then the live tail.
    const points = [];
    let time = 1_000_000;
    for (let step = 1; step <= 3200; step++) {
      time += step === 401 ? 20_000 : 100;
      points.push({
        seq: step,
        step,
        epoch: 1,
        batch: step - 1,
        loss: 1,
        accuracy: 50,
        learningRate: step > 400 ? 0.05 : 0.01,
        samplesPerSec: 1,
        time,
      });
    }
    const source = {
      head: points.filter((p) => p.step < 1024),
      overview: bucketize(
        points.filter((p) => p.step >= 1024 && p.step < 3008),
        64,
      ),
      points: points.filter((p) => p.step >= 3008),
    };
    const c = new SeriesColumns();
    c.sync(source, 'time', 'learningRate', 3200, 0);
    // The frame plan as the chart makes it: 500 pixel columns over the whole span (M4).
    const [x0, x1] = [c.xs[0], c.xs[c.length - 1]];
    const idx = minMaxBuckets(c.xs, c.ys, 500, 0, c.length, { x0, x1 });
    const segments: Array<{ from: number; to: number; ys: Set<number>; lines: number }> = [];
    const ctx = {
      beginPath() {},
      stroke() {},
      arc() {},
      fill() {},
      set globalAlpha(_: number) {},
      set strokeStyle(_: string) {},
      set lineWidth(_: number) {},
      moveTo: (x: number, y: number) =>
        segments.push({ from: x, to: x, ys: new Set([y]), lines: 0 }),
      lineTo: (x: number, y: number) =>
        Object.assign(segments[segments.length - 1], {
          to: x,
          lines: segments[segments.length - 1].lines + 1,
        }).ys.add(y),
    };
    const same = (v: number) => v;
    drawLine(
      ctx as unknown as CanvasRenderingContext2D,
      c.xs,
      c.ys,
      idx,
      same as never,
      same as never,
      { colour: '#000', width: 1, alpha: 1 },
      c.breaks,
    );
    assert.equal(
      segments.length,
      2,
      `one break, at the pause (segments: ${segments.map((s) => `${s.from.toFixed(1)}–${s.to.toFixed(1)} s`).join(', ')})`,
    );
    const resumedAt = (points[400].time - points[0].time) / 1000;
    assert.deepEqual([...segments[1].ys], [0.05], 'the stretch after the pause is at 0.05');
    assert.ok(
      segments[1].from === resumedAt && segments[1].to === x1,
      `drawn from the resume (${resumedAt} s) to the end (${x1} s): ${segments[1].from}–${segments[1].to}`,
    );
    assert.ok(segments[0].to < resumedAt - 19, 'the stretch before the pause ends at the pause');
  });
});
