/**
 * Pure parts of the run page (issue 18): the chart legend's layout (wraps, never cuts a name
 * that fits a row), a marker's short label, the y ticks of samples/s (never SI), the epoch
 * axis of a one-epoch run, download names (slugged alike), the rate box's own error and the
 * log scale's metrics. No DOM.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOG_SCALE_METRICS } from '../../app/charts/batchColumns';
import {
  epochDomain,
  formatYTick,
  layoutLegend,
  markerLabel,
  plotLayout,
} from '../../app/charts/batchDraw';

import { learningRateError } from '../../app/components/RunControls';
import { fileSlug } from '../../server/format';

test('the legend wraps onto another row rather than cut a run name, and the plot moves down for it', () => {
  const items = [
    { label: 'sgd baseline (lr change at 300)', colour: '#f00' },
    { label: 'adam, lr 0.001, batch 64 and a long note', colour: '#0f0' },
  ];
  // A 600 px chart: the title ends at 150, the plot's right edge at 576.
  const one = layoutLegend(items.slice(0, 1), 150, 4, 576);
  assert.deepEqual(
    one.placed.map((p) => [p.label, p.row]),
    [['sgd baseline (lr change at 300)', 0]],
  );
  const two = layoutLegend(items, 150, 4, 576);
  assert.deepEqual(
    two.placed.map((p) => [p.label, p.row, p.x]),
    [
      ['sgd baseline (lr change at 300)', 0, 150],
      ['adam, lr 0.001, batch 64 and a long note', 1, 4],
    ],
  );
  assert.equal(two.rows, 2);
  assert.equal(two.more, 0);
  assert.equal(
    plotLayout(600, 280, two.rows).top - plotLayout(600, 280, 1).top,
    15,
    'one legend row more, 15 px lower',
  );
  // Only a name wider than a whole row is cut, and then to the row.
  const long = layoutLegend([{ label: 'x'.repeat(200), colour: '#00f' }], 150, 4, 576);
  assert.ok(
    long.placed[0].label.endsWith('…') && 18 + long.placed[0].label.length * 6.5 <= 576 - 4 + 6.5,
  );
  // Beyond three rows, "+N".
  const many = layoutLegend(
    Array.from({ length: 30 }, (_, i) => ({ label: `run number ${i}`, colour: '#000' })),
    150,
    4,
    576,
  );
  assert.equal(many.rows, 3);
  assert.equal(many.placed.length + many.more, 30);
  assert.ok(many.more > 0);
});

test("a marker's label: a command without its author, a note cut short", () => {
  const event = (text: string) => markerLabel({ kind: 'event', authorName: 'Ada', text });
  assert.equal(event('Ada changed the learning rate from 0.01 to 0.05'), 'lr 0.01 → 0.05');
  assert.equal(event('Ada set the learning rate to 0.05'), 'lr 0.05');
  assert.equal(event('Ada paused the run'), 'paused');
  assert.equal(event('loss became NaN at step 12'), 'loss became NaN at step 12');
  assert.equal(
    markerLabel({
      kind: 'note',
      authorName: 'Bob',
      text: 'the loss spikes here after the learning rate went up',
    }),
    'the loss spikes here after …',
  );
});

test('samples/s ticks are plain numbers: 0.5 is "0.5" (not "500m"), 12,000 is "12,000" (not "12k")', () => {
  assert.deepEqual(
    [0, 0.5, 1, 2.5, 12_000, 1_500_000].map((v) => formatYTick('samplesPerSec', v)),
    ['0', '0.5', '1', '2.5', '12,000', '1,500,000'],
  );
  assert.equal(formatYTick('accuracy', 80), '80%');
  assert.equal(formatYTick('loss', 0.25), '0.25');
});

test('log scale applies to loss and the learning rate only (accuracy stays 0–100 %, linear)', () => {
  assert.deepEqual([...LOG_SCALE_METRICS].sort(), ['learningRate', 'loss']);
});

test('one epoch sits mid-axis; more run from epoch 1 to the last', () => {
  assert.deepEqual(epochDomain(1), [0.5, 1.5]);
  assert.deepEqual(epochDomain(5), [1, 5]);
});

test('download names: spaces and brackets become one "_", as the CSV export names them', () => {
  assert.equal(fileSlug('sgd baseline (lr change)'), 'sgd_baseline_lr_change_');
  assert.equal(fileSlug('   '), '_');
  assert.equal(fileSlug(''), 'run');
  assert.equal(fileSlug('a'.repeat(100)).length, 80);
});

test("the rate box's own error says what is allowed and what was typed", () => {
  assert.equal(learningRateError('0.05'), null);
  assert.equal(learningRateError('0'), 'Learning rate: a number above 0 and at most 10, got 0.');
  assert.equal(learningRateError('20'), 'Learning rate: a number above 0 and at most 10, got 20.');
  assert.equal(learningRateError(''), 'Learning rate: a number above 0 and at most 10.');
  assert.equal(
    learningRateError('', true),
    'Learning rate: a number above 0 and at most 10, got something that is not a number.',
  );
});
