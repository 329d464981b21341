/**
 * M4 (Jugel et al., VLDB 2014) as the batch chart uses it: a line drawn from the hub's buckets
 * (their first, min, max and last points, through the wire encoding) and the same line drawn
 * from every raw point, both reduced to the first, min, max and last point of each pixel
 * column, differ in no pixel on a real Chromium canvas when each column holds whole buckets,
 * with planted spikes up and down and a diverged stretch. The smoothed line from buckets
 * (the EMA advanced a bucket at a time at its mean) stays within a pixel of the one smoothed
 * point by point.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from 'esbuild';
import { SeriesColumns } from '../app/charts/batchColumns';
import { bucketize, fromBucketColumns, HEAD_STEPS, toBucketColumns } from '../server/columns';
import { launchChromium } from './helpers/browser';
import { ROOT } from './helpers/proc';
import { makePoints } from './fixtures/m4Page';

test('in Chromium: the unsmoothed chart drawn from buckets and from the raw points differ in no pixel', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  t.after(() => browser.close());
  const bundle = await build({
    entryPoints: [`${ROOT}/test/fixtures/m4Page.ts`],
    bundle: true,
    format: 'iife',
    globalName: 'M4',
    write: false,
    logLevel: 'silent',
  });
  const page = await browser.newPage();
  await page.setContent('<!doctype html><title>M4</title>');
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  // 65,536 steps: buckets of 64 at 1, 2 and 4 per pixel column, buckets of 256 at 1 and 4.
  for (const [width, columns] of [
    [64, 1024],
    [64, 512],
    [64, 256],
    [256, 256],
    [256, 64],
  ] as const) {
    const r = await page.evaluate(
      ([w, c]) =>
        (
          globalThis as unknown as {
            M4: {
              compare(n: number, w: number, c: number): { differing: number; painted: number };
            };
          }
        ).M4.compare(65_536, w, c),
      [width, columns] as const,
    );
    assert.ok(r.painted > columns, `the line is drawn (${r.painted} pixels painted)`);
    assert.equal(
      r.differing,
      0,
      `buckets of ${width} steps at ${65_536 / columns / width} per column (${columns} px): ${r.differing} of ${r.painted} painted pixels differ`,
    );
  }
});

/**
 * Measured (65,536 noisy steps, 1,000 × 300 px, the first 1,024 steps raw as snapshots send
 * them): from smoothing 0.9 up, the bucketed line stays within 0.9 px of the raw one's band;
 * at 0.6 (an EMA that remembers ~2 points, shorter than a bucket of 64) it strays up to ~2 px
 * where the noise inside a bucket is large, which is reported, not asserted: the EMA models
 * the points between a bucket's first, min, max and last at the others' mean.
 */
test('the smoothed line from buckets stays within a pixel of the one smoothed point by point (heavy smoothing)', (t) => {
  // A chart 1,000 px wide and 300 px tall showing 65,536 steps of loss on a 0–3 axis.
  const points = makePoints(65_536).map((p) => ({ ...p, step: p.step + 1 }));
  const columns = 1000;
  const px = (step: number) => Math.floor(((step - 1) / 65_536) * columns);
  const py = (v: number) => (v / 3) * 300;
  for (const smoothing of [0.6, 0.9, 0.99, 0.995]) {
    const raw = new SeriesColumns();
    raw.sync({ points }, 'step', 'loss', null, smoothing);
    // The band the raw smoothed line paints in each pixel column (M4: its min to its max).
    const lo = new Float64Array(columns).fill(Infinity);
    const hi = new Float64Array(columns).fill(-Infinity);
    for (let i = 0; i < raw.length; i++) {
      const v = raw.smooth[i];
      if (!Number.isFinite(v)) continue;
      const c = px(raw.steps[i]);
      lo[c] = Math.min(lo[c], py(v));
      hi[c] = Math.max(hi[c], py(v));
    }
    for (const width of [64, 256]) {
      const bucketed = new SeriesColumns();
      // As a snapshot sends it: the first HEAD_STEPS raw, buckets after.
      const headEnd = Math.ceil(HEAD_STEPS / width) * width;
      const head = points.filter((p) => p.step < headEnd);
      const overview = fromBucketColumns(
        toBucketColumns(
          bucketize(
            points.filter((p) => p.step >= headEnd),
            width,
          ),
          width,
        ),
      );
      bucketed.sync({ points: [], head, overview }, 'step', 'loss', null, smoothing);
      let worst = 0;
      let where = 0;
      for (let i = 0; i < bucketed.length; i++) {
        const v = bucketed.smooth[i];
        const c = px(bucketed.steps[i]);
        if (!Number.isFinite(v) || !Number.isFinite(lo[c])) continue;
        const off = Math.max(0, lo[c] - py(v), py(v) - hi[c]);
        if (off > worst) [worst, where] = [off, bucketed.steps[i]];
      }
      t.diagnostic(
        `smoothing ${smoothing}, buckets of ${width}: at most ${worst.toFixed(2)} px outside the raw smoothed line's band (step ${where})`,
      );
      if (smoothing >= 0.9)
        assert.ok(
          worst <= 1,
          `smoothing ${smoothing}, buckets of ${width} steps: the bucketed smoothed line leaves the raw one's band by ${worst.toFixed(2)} px (step ${where})`,
        );
    }
  }
});
