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
