/** The runs list's sorting and filtering (app/lib/runsList.ts): pure, no React. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matches, sortRuns } from '../app/lib/runsList';
import type { RunSummary } from '../server/protocol';
import { hyperparamsSchema } from '../server/trainer/config';

const run = (id: string, over: Partial<RunSummary> = {}): RunSummary =>
  ({
    id, name: id, description: '', tags: [], archivedAt: null, status: 'completed', statusMessage: null, hyperparams: hyperparamsSchema.parse({}),
    backend: null, device: null, trainerHost: null, createdBy: 'Ada', createdAt: '2026-12-01T10:00:00.000Z', startedAt: null, endedAt: null,
    trainSize: null, testSize: null, batchesPerEpoch: null, totalSteps: null, lastStep: 0, lastSeq: 0, finalTrainLoss: null, finalTrainAccuracy: null,
    finalTestLoss: null, finalTestAccuracy: null, samplesPerSec: null, learningRates: [], ...over,
  }) satisfies RunSummary;

test('sorting by any column, both ways, with missing values last either way', () => {
  const runs = [run('b', { finalTestAccuracy: 91 }), run('a', { finalTestAccuracy: null }), run('c', { finalTestAccuracy: 97 })];
  assert.deepEqual(sortRuns(runs, 'accuracy', 1).map((r) => r.id), ['b', 'c', 'a']);
  assert.deepEqual(sortRuns(runs, 'accuracy', -1).map((r) => r.id), ['c', 'b', 'a']);
  assert.deepEqual(sortRuns(runs, 'name', 1).map((r) => r.id), ['a', 'b', 'c']);
  // The learning rate sorts by its current value, after changes.
  const lr = [run('x', { learningRates: [{ step: 1, value: 0.01 }, { step: 9, value: 0.5 }] }), run('y', { hyperparams: hyperparamsSchema.parse({ learningRate: 0.1 }) })];
  assert.deepEqual(sortRuns(lr, 'lr', 1).map((r) => r.id), ['y', 'x']);
  // Loss by the latest value the list has drawn; hyperparameter columns by their value.
  assert.deepEqual(sortRuns([run('p'), run('q')], 'loss', 1, { p: [2, 0.9], q: [3, 0.2] }).map((r) => r.id), ['q', 'p']);
  assert.deepEqual(sortRuns([run('e5', { hyperparams: hyperparamsSchema.parse({ epochs: 5 }) }), run('e2', { hyperparams: hyperparamsSchema.parse({ epochs: 2 }) })], 'epochs', 1).map((r) => r.id), ['e2', 'e5']);
});

test('filtering by status, tag and text (name, description, tags, who)', () => {
  const r = run('r1', { name: 'LR sweep 3', description: 'with **Adam**', tags: ['sweep'], status: 'failed', createdBy: 'Bob' });
  const none = { text: '', status: '', tag: '' };
  assert.ok(matches(r, none));
  assert.ok(matches(r, { ...none, status: 'failed' }) && !matches(r, { ...none, status: 'completed' }));
  assert.ok(matches(r, { ...none, tag: 'sweep' }) && !matches(r, { ...none, tag: 'baseline' }));
  for (const text of ['sweep 3', 'adam', 'bob', 'SWEEP']) assert.ok(matches(r, { ...none, text }), text);
  assert.ok(!matches(r, { ...none, text: 'resnet' }));
});

test('the prediction grid spreads any panel size over even rows: never full rows and a lone digit', async () => {
  const { columnsFor } = await import('../app/lib/evenColumns');
  assert.equal(columnsFor(16, 8), 8);
  assert.equal(columnsFor(16, 4), 4);
  assert.equal(columnsFor(10, 8), 5, 'ten digits: 5 + 5, not 8 + 2');
  assert.equal(columnsFor(7, 4), 4, 'seven at most four a row: 4 + 3');
  assert.equal(columnsFor(9, 8), 5, 'nine: 5 + 4, not 8 + 1');
  assert.equal(columnsFor(3, 8), 3);
  assert.equal(columnsFor(64, 8), 8);
  for (let n = 1; n <= 64; n++) {
    for (const most of [2, 4, 8]) {
      const c = columnsFor(n, most);
      const rows = Math.ceil(n / c);
      assert.ok(c <= most, `${n} at most ${most}: ${c} columns`);
      assert.equal(rows, Math.ceil(n / most), `${n} at most ${most}: no more rows than needed`);
      assert.ok(rows * c - n < rows, `${n} at most ${most}: the last row is short by less than one cell per row (${c} columns)`);
    }
  }
});
