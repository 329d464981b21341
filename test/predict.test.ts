/**
 * Predicting on demand from a checkpoint, and pixels by index.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { hyperparamsSchema } from '../server/trainer/config';
import { loadCheckpoint } from '../server/trainer/checkpoint';
import { createPredictor, digitPixels, PredictInputError } from '../server/trainer/predict';
import { createTrainer } from '../server/trainer/trainer';
import type { MnistData } from '../server/trainer/data/mnist';
import type { BackendInfo } from '../server/trainer/events';
import { ofType, recordingSink, wasmFixture } from './helpers/trainer';

let data: MnistData;
let backend: BackendInfo;
const tmp = mkdtempSync(path.join(tmpdir(), 'livetrain-predict-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
before(async () => ({ data, backend } = await wasmFixture()));

test("a finished run's checkpoint predicts digits as the run's own evaluation did", async () => {
  const sink = recordingSink();
  const result = await createTrainer(
    {
      runId: 'predict',
      hyperparams: hyperparamsSchema.parse({ epochs: 1, trainLimit: 1920, testLimit: 300 }),
      data,
      backend,
      checkpointDir: tmp,
    },
    sink,
  ).run();
  const predictor = createPredictor(await loadCheckpoint(result.lastCheckpoint!));
  assert.equal(predictor.step, result.step);

  // Every misclassified digit the run reported is predicted the same way again, with the same probabilities.
  const mis = ofType(sink.events, 'misclassified')[0].items.slice(0, 20);
  assert.ok(mis.length > 0);
  const preds = await predictor.predict(mis.map((m) => digitPixels(data.test, m.index)));
  preds.forEach((p, i) => {
    assert.equal(p.predicted, mis[i].predicted);
    const want = mis[i].probabilities;
    assert.ok(p.probabilities && want, 'finite outputs');
    p.probabilities.forEach((q, k) => assert.ok(Math.abs(q - want[k]) < 1e-4));
  });

  // Over the run's test subset, the predictor scores exactly the run's final test accuracy.
  const all = await predictor.predict(
    Array.from({ length: 300 }, (_, i) => digitPixels(data.test, i)),
  );
  const correct = all.filter((p, i) => p.predicted === data.test.labels[i]).length;
  assert.equal((100 * correct) / 300, result.testAccuracy);

  const before = tf.memory().numTensors;
  await predictor.predict([new Array(784).fill(0)]);
  assert.equal(tf.memory().numTensors, before, 'predict leaks nothing');
  predictor.dispose();
});

test('bad images are refused with a clear error', async () => {
  const result = await createTrainer(
    {
      runId: 'predict-bad',
      hyperparams: hyperparamsSchema.parse({ epochs: 1, trainLimit: 64, testLimit: 10 }),
      data,
      backend,
      checkpointDir: path.join(tmp, 'bad'),
    },
    recordingSink(),
  ).run();
  const predictor = createPredictor(await loadCheckpoint(result.lastCheckpoint!));
  await assert.rejects(predictor.predict([]), PredictInputError);
  await assert.rejects(predictor.predict([new Array(783).fill(0)]), /783 pixels/);
  await assert.rejects(predictor.predict([new Array(784).fill(300)]), /pixel 0 is 300/);
  await assert.rejects(predictor.predict([new Array(784).fill(Number.NaN)]), /pixel 0 is NaN/);
  assert.throws(() => digitPixels(data.test, 10_000), /out of range/);
  assert.equal(digitPixels(data.test, 3).length, 784);
  predictor.dispose();
});
