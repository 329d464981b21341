/**
 * The dashboard's catch-up rules (app/lib/runState.ts): snapshot then live messages in seq
 * order, a gap asks for a re-watch, what was seen is ignored, a re-watch with afterSeq
 * continues the points held without duplicates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyAnnotation, applyMessage, applySnapshot, emptyRunView, etaSeconds } from '../app/lib/runState';
import type { RunSnapshot, RunSummary, WireAnnotation, WirePoint } from '../server/protocol';

const point = (seq: number, step = seq): WirePoint => ({ seq, step, epoch: 1, batch: step - 1, loss: 1 / step, accuracy: 50, learningRate: 0.01, samplesPerSec: 320, time: seq });
const run = { id: 'r', status: 'running', totalSteps: 100, batchesPerEpoch: 100, hyperparams: { batchSize: 32, epochs: 1 } } as unknown as RunSummary;
const snapshot = (points: WirePoint[], lastSeq: number): RunSnapshot => ({ run, epochs: [], annotations: [], presence: [], points, predictions: null, lastSeq });
const batch = (fromSeq: number, toSeq: number, points: WirePoint[]) => ({ event: 'metrics:batch' as const, msg: { runId: 'r', fromSeq, toSeq, points } });

test('snapshot then live frames chain; a gap asks for a re-watch; seen frames are ignored', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1), point(2)], 3), 0);
  assert.equal(s.lastSeq, 3);
  assert.equal(applyMessage(s, batch(4, 5, [point(4), point(5)])), 'ok');
  assert.equal(applyMessage(s, batch(4, 5, [point(4), point(5)])), 'seen', 'a repeat changes nothing');
  assert.equal(applyMessage(s, batch(8, 9, [point(8), point(9)])), 'gap', 'seqs 6–7 are missing');
  assert.deepEqual(s.points.map((p) => p.seq), [1, 2, 4, 5]);
  // The re-watch with afterSeq = 5 brings 6..9 and the chain continues after it.
  applySnapshot(s, snapshot([point(6), point(7), point(8), point(9)], 9), 5);
  assert.deepEqual(s.points.map((p) => p.seq), [1, 2, 4, 5, 6, 7, 8, 9]);
  assert.equal(applyMessage(s, batch(10, 10, [point(10)])), 'ok');
  assert.equal(s.lastSeq, 10);
});

test('a frame overlapping what is held adds only the new points; other stream messages advance the seq', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1), point(2), point(3)], 3), 0);
  assert.equal(applyMessage(s, batch(2, 5, [point(2), point(3), point(4), point(5)])), 'ok');
  assert.deepEqual(s.points.map((p) => p.seq), [1, 2, 3, 4, 5]);
  const epoch = { seq: 6, epoch: 1, step: 5, trainLoss: 1, trainAccuracy: 50, testLoss: 1, testAccuracy: 50, confusion: [], samplesPerSec: 1, trainMs: 1, evalMs: 1000, time: 0 };
  assert.equal(applyMessage(s, { event: 'metrics:epoch', msg: { runId: 'r', fromSeq: 6, toSeq: 6, epoch } }), 'ok');
  assert.equal(applyMessage(s, { event: 'run:progress', msg: { runId: 'r', fromSeq: 7, toSeq: 8, phase: 'eval-test', epoch: 1, done: 5, total: 10 } }), 'ok');
  assert.deepEqual([s.epochs.length, s.progress?.phase, s.lastSeq], [1, 'eval-test', 8]);
  const v = s.version;
  applySnapshot(s, snapshot([], 8), 0);
  assert.ok(s.version > v);
  assert.deepEqual(s.points, [], 'a fresh watch (afterSeq 0) replaces the points');
});

test('annotations are added once, edited and deleted in place; ETA from recent throughput', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1, 1), point(2, 2)], 2), 0);
  const a = { id: 1, runId: 'r', step: 1, kind: 'note', text: 'x', authorId: 'p', authorName: 'Ada', createdAt: '', updatedAt: '', edits: 0 } satisfies WireAnnotation;
  applyAnnotation(s, { added: a });
  applyAnnotation(s, { added: a });
  assert.equal(s.annotations.length, 1);
  applyAnnotation(s, { edited: { ...a, text: 'y', edits: 1 } });
  assert.equal(s.annotations[0].text, 'y');
  applyAnnotation(s, { deleted: 1 });
  assert.equal(s.annotations.length, 0);
  // 98 steps left × 32 samples at 320 samples/s = 9.8 s.
  assert.ok(Math.abs(etaSeconds(s)! - 9.8) < 1e-9);
});
