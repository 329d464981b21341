/**
 * The fit loop on the real wasm backend and real MNIST subsets: learning, the event stream,
 * leaks, control between batches, and checkpoint/resume.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { hyperparamsSchema, type HyperparamsInput } from '../server/trainer/config';
import { latestCheckpoint, loadCheckpoint } from '../server/trainer/checkpoint';
import { createTrainer, type TrainerOptions } from '../server/trainer/trainer';
import { ControlError } from '../server/trainer/control';
import type { MnistData } from '../server/trainer/data/mnist';
import type { BackendInfo } from '../server/trainer/events';
import { ofType, recordingSink, wasmFixture } from './helpers/trainer';

let data: MnistData;
let backend: BackendInfo;
let tmp: string;

before(async () => {
  ({ data, backend } = await wasmFixture());
  tmp = mkdtempSync(path.join(tmpdir(), 'livetrain-trainer-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function options(
  runId: string,
  hp: HyperparamsInput,
  extra: Partial<TrainerOptions> = {},
): TrainerOptions {
  return {
    runId,
    hyperparams: hyperparamsSchema.parse(hp),
    data,
    backend,
    checkpointDir: null,
    ...extra,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** A metric that must be finite here (a null one is a diverged value). */
function num(x: number | null): number {
  assert.ok(x !== null, 'a finite value, not null');
  return x;
}

test("a short real run reduces the loss and reports the tutorial's metrics", async () => {
  const sink = recordingSink();
  const trainer = createTrainer(
    options('learn', { epochs: 2, trainLimit: 2560, testLimit: 500 }),
    sink,
  );
  const result = await trainer.run();
  const points = ofType(sink.events, 'metrics:batch').map((e) => e.point);
  assert.equal(points.length, 160);
  assert.ok(
    mean(points.slice(-20).map((p) => num(p.loss))) <
      mean(points.slice(0, 20).map((p) => num(p.loss))) - 0.5,
    'mean loss of the last 20 batches is well below the first 20',
  );
  assert.equal(result.epochs.length, 2);
  const [e1, e2] = result.epochs;
  assert.ok(num(e2.testLoss) < num(e1.testLoss), 'test loss falls from epoch 1 to 2');
  assert.ok(num(e2.testLoss) < Math.log(10) - 1, `test loss ${e2.testLoss} well below chance`);
  assert.ok(e2.testAccuracy > 70, `test accuracy ${e2.testAccuracy}%`);
  assert.ok(e2.trainLoss !== null && e2.trainAccuracy !== null);
  // Confusion matrix and misclassified digits agree with the accuracy.
  const total = e2.confusion.flat().reduce((a, b) => a + b, 0);
  const diagonal = e2.confusion.reduce((a, row, i) => a + row[i], 0);
  assert.equal(total, 500);
  assert.ok(Math.abs((100 * diagonal) / 500 - e2.testAccuracy) < 1e-9);
  const mis = ofType(sink.events, 'misclassified').at(-1)!;
  assert.equal(mis.total, 500 - diagonal);
  assert.equal(mis.items.length, mis.total);
  for (const item of mis.items) {
    assert.notEqual(item.label, item.predicted);
    assert.equal(data.test.labels[item.index], item.label);
    const probabilities = item.probabilities;
    assert.ok(probabilities, 'a finite model gives probabilities');
    assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    assert.equal(probabilities.indexOf(Math.max(...probabilities)), item.predicted);
  }
});

test('the event stream: started first, gap-free seq, per-batch fields, panel, final status', async () => {
  const sink = recordingSink();
  await createTrainer(
    options(
      'stream',
      { epochs: 1, trainLimit: 320, testLimit: 100 },
      { reporting: { panelEveryBatches: 3, panelSize: 8 } },
    ),
    sink,
  ).run();
  const ev = sink.events;
  assert.equal(ev[0].type, 'run:started');
  assert.deepEqual(
    ev.map((e) => e.seq),
    ev.map((_, i) => i + 1),
  );
  assert.ok(ev.every((e) => e.runId === 'stream'));
  const started = ofType(ev, 'run:started')[0];
  assert.equal(started.parameterCount, 21_840);
  assert.equal(started.batchesPerEpoch, 10);
  assert.equal(started.backend.name, 'wasm');
  const points = ofType(ev, 'metrics:batch').map((e) => e.point);
  assert.deepEqual(
    points.map((p) => p.step),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.deepEqual(
    points.map((p) => p.batch),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  for (const p of points) {
    assert.equal(p.epoch, 1);
    assert.equal(p.learningRate, 0.01);
    assert.ok(
      num(p.accuracy) >= 0 &&
        num(p.accuracy) <= 100 &&
        num(p.loss) > 0 &&
        p.samplesPerSec > 0 &&
        p.time > 0,
    );
  }
  const panels = ofType(ev, 'predictions');
  assert.deepEqual(
    panels.map((p) => p.step),
    [3, 6, 9, 10],
  );
  assert.ok(panels.every((p) => p.items.length === 8));
  assert.deepEqual(
    panels[0].items.map((i) => i.index),
    panels[3].items.map((i) => i.index),
    'the panel is fixed',
  );
  assert.equal(ofType(ev, 'metrics:epoch').length, 1);
  const last = ev.at(-1)!;
  assert.ok(last.type === 'status' && last.status === 'completed');
});

test('no tensor leaks: tf.memory().numTensors is the same at every epoch end and zero after', async () => {
  const before = tf.memory().numTensors;
  const result = await createTrainer(
    options('leak', { epochs: 3, trainLimit: 320, testLimit: 100 }),
    recordingSink(),
  ).run();
  assert.equal(result.numTensorsAtEpochEnd.length, 3);
  assert.equal(
    new Set(result.numTensorsAtEpochEnd).size,
    1,
    `counts ${result.numTensorsAtEpochEnd}`,
  );
  assert.equal(tf.memory().numTensors, before);
});

test('Adam trains too', async () => {
  const result = await createTrainer(
    options('adam', {
      epochs: 1,
      trainLimit: 1920,
      testLimit: 300,
      optimizer: 'adam',
      learningRate: 0.002,
    }),
    recordingSink(),
  ).run();
  assert.ok(num(result.epochs[0].testLoss) < 1.5, `test loss ${result.epochs[0].testLoss}`);
});

test('control: pause, set-lr, resume and stop take effect between batches and are reported', async () => {
  let trainer: ReturnType<typeof createTrainer>;
  let stopAtStep = -1;
  let pauseAtStep = -1;
  // The emitter swallows a sink's throws: what happens in the sink is recorded and asserted after the run.
  let badLrRefusal: unknown = 'not tried';
  // The sink sees events some batches late; requests are checked against the trainer's own step.
  const sink = recordingSink((e) => {
    if (e.type === 'metrics:batch' && e.point.step >= 3 && pauseAtStep < 0) {
      pauseAtStep = trainer.step;
      trainer.pause();
    }
    if (e.type === 'status' && e.status === 'paused') {
      try {
        trainer.setLearningRate(-1);
        badLrRefusal = 'accepted';
      } catch (error) {
        badLrRefusal = error;
      }
      trainer.setLearningRate(0.05);
      setTimeout(() => trainer.resume(), 50);
    }
    if (e.type === 'metrics:batch' && e.point.learningRate === 0.05 && stopAtStep < 0) {
      stopAtStep = trainer.step;
      trainer.stop();
    }
  });
  trainer = createTrainer(
    options(
      'control',
      { epochs: 5, trainLimit: 3200, testLimit: 100 },
      { checkpointDir: path.join(tmp, 'control') },
    ),
    sink,
  );
  const result = await trainer.run();
  assert.equal(result.status, 'stopped');
  assert.ok(
    badLrRefusal instanceof ControlError,
    `a learning rate of -1 is refused with a ControlError (${String(badLrRefusal)})`,
  );
  assert.match(badLrRefusal.message, /learning rate/);
  const statuses = ofType(sink.events, 'status').map((s) => s.status);
  assert.deepEqual(statuses, ['running', 'paused', 'running', 'stopped']);
  const controls = ofType(sink.events, 'control');
  assert.deepEqual(
    controls.map((c) => c.action),
    ['pause', 'set-lr', 'resume', 'stop'],
  );
  assert.equal(controls[1].learningRate, 0.05);
  const points = ofType(sink.events, 'metrics:batch').map((e) => e.point);
  // Paused before the next batch; nothing trained while paused; the next batch uses the new rate.
  const paused = ofType(sink.events, 'status').find((s) => s.status === 'paused')!;
  assert.equal(paused.step, pauseAtStep);
  const firstNewLr = points.find((p) => p.learningRate === 0.05)!;
  assert.equal(firstNewLr.step, pauseAtStep + 1);
  assert.ok(points.filter((p) => p.step <= pauseAtStep).every((p) => p.learningRate === 0.01));
  // Stop lands within one batch of the request.
  assert.ok(result.step <= stopAtStep + 1, `stopped at ${result.step}, requested at ${stopAtStep}`);
  const ckpt = ofType(sink.events, 'checkpoint').at(-1)!;
  assert.equal(ckpt.reason, 'stop');
  assert.equal((await loadCheckpoint(ckpt.path)).header.step, result.step);
});

test('a run stopped mid-epoch and resumed from its checkpoint ends exactly where an uninterrupted run does', async () => {
  const hp = { epochs: 2, trainLimit: 3200, testLimit: 200, seed: 5 };
  const reference = await createTrainer(options('ref', hp), recordingSink()).run();

  const dir = path.join(tmp, 'resume');
  let first: ReturnType<typeof createTrainer>;
  const sink1 = recordingSink((e) => {
    if (e.type === 'metrics:batch' && e.point.step === 120) first.stop();
  });
  first = createTrainer(options('resumed', hp, { checkpointDir: dir }), sink1);
  const partial = await first.run();
  assert.equal(partial.status, 'stopped');
  assert.ok(
    partial.step >= 120 && partial.step < 200,
    `stopped at step ${partial.step}, mid-way through epoch 2`,
  );

  const ckpt = await loadCheckpoint((await latestCheckpoint(dir))!);
  assert.equal(ckpt.header.reason, 'stop');
  assert.deepEqual(ckpt.header.position, { epoch: 2, batch: partial.step - 100 });
  const sink2 = recordingSink();
  const resumed = await createTrainer(
    options('resumed', hp, { checkpointDir: dir, resume: ckpt }),
    sink2,
  ).run();
  assert.equal(resumed.status, 'completed');
  assert.equal(resumed.step, reference.step);
  const steps = ofType(sink2.events, 'metrics:batch').map((e) => e.point.step);
  assert.equal(steps[0], partial.step + 1, 'the curve continues at the next step');
  assert.equal(ofType(sink2.events, 'run:started')[0].startStep, partial.step);
  // seq continues right after the stopped run's last event: no gap, no reuse.
  assert.equal(sink2.events[0].seq, sink1.events.at(-1)!.seq + 1);
  const [a, b] = [reference.epochs.at(-1)!, resumed.epochs.at(-1)!];
  assert.ok(
    Math.abs(num(a.testLoss) - num(b.testLoss)) < 1e-5,
    `reference ${a.testLoss} vs resumed ${b.testLoss}`,
  );
  assert.equal(a.testAccuracy, b.testAccuracy);
});
