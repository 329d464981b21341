/**
 * A diverging run: a loss that stops being finite is sent as null, stored as null, noted once
 * ("loss became NaN at step N"), drawn as a gap, and after a configurable number of such
 * batches the trainer ends the run as failed, saying why. The trainer part is the real fit
 * loop on wasm, made to overflow from a checkpoint whose (finite) weights are huge; the hub
 * part is a real hub fed those very events by a hand-written trainer peer.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { hyperparamsSchema, reportingSchema } from '../server/trainer/config';
import { latestCheckpoint, loadCheckpoint, type Checkpoint } from '../server/trainer/checkpoint';
import { createDivergenceWatch, describeNonFinite, Diverged } from '../server/trainer/divergence';
import { trainerEventSchema } from '../server/trainer/eventSchema';
import { createTrainer } from '../server/trainer/trainer';
import { parseCli } from '../server/trainer/cli';
import type { MnistData } from '../server/trainer/data/mnist';
import type { BackendInfo, TrainerEvent, UnstampedEvent } from '../server/trainer/events';
import type { WireAnnotation } from '../server/protocol';
import { ofType, recordingSink, wasmFixture } from './helpers/trainer';
import {
  connectBrowser,
  eventually,
  fakeTrainerTakingAJob,
  runOnFakeTrainer,
  snapshotPoints,
} from './helpers/hub';
import { launchChromium, startHubProcess } from './helpers/browser';

describe('the divergence watch (pure)', () => {
  test('a non-finite loss becomes null, is noted once per stretch, and stops the run after N in a row', () => {
    const watch = createDivergenceWatch(3);
    assert.deepEqual(watch.batch(1, 1, 2.3, 10), {
      loss: 2.3,
      accuracy: 10,
      events: [],
      diverged: null,
    });
    const first = watch.batch(2, 1, NaN, 12.5);
    assert.deepEqual([first.loss, first.accuracy, first.diverged], [null, 12.5, null]);
    assert.deepEqual(first.events, [
      { type: 'metrics:nonfinite', metric: 'loss', value: 'NaN', step: 2, epoch: 1 },
    ]);
    assert.equal(describeNonFinite(first.events[0]), 'loss became NaN at step 2');
    // Still not finite (now Infinity): no second note, one batch short of the limit.
    assert.deepEqual(watch.batch(3, 1, Infinity, 9).events, []);
    // Finite again: the count starts over, and the next stretch gets its own note.
    assert.equal(watch.batch(4, 1, 1.9, 50).diverged, null);
    const again = watch.batch(5, 2, -Infinity, NaN);
    assert.deepEqual(
      again.events.map((e) => [e.metric, e.value, e.step]),
      [
        ['loss', '-Infinity', 5],
        ['accuracy', 'NaN', 5],
      ],
    );
    assert.equal(watch.batch(6, 2, NaN, 0).diverged, null);
    const stop = watch.batch(7, 2, NaN, 0);
    assert.match(
      stop.diverged ?? '',
      /loss was -Infinity from step 5 on, 3 batches in a row: the run diverged/,
    );
  });

  test('epoch results: non-finite losses become null and are noted; a train loss not evaluated stays null', () => {
    const watch = createDivergenceWatch(10);
    const { values, events } = watch.epoch(100, 1, {
      trainLoss: null,
      trainAccuracy: null,
      testLoss: NaN,
    });
    assert.deepEqual(values, { trainLoss: null, trainAccuracy: null, testLoss: null });
    assert.deepEqual(events.map(describeNonFinite), ['test loss became NaN at step 100']);
  });

  test('the limit is configurable and a nonsense limit is refused, not defaulted', () => {
    assert.equal(reportingSchema.parse({}).stopAfterNonFinite, 10);
    assert.equal(reportingSchema.parse({ stopAfterNonFinite: 1 }).stopAfterNonFinite, 1);
    for (const bad of [0, -1, 2.5, 'ten'])
      assert.equal(
        reportingSchema.safeParse({ stopAfterNonFinite: bad }).success,
        false,
        String(bad),
      );
    const cli = parseCli(['--stop-after-nonfinite', '3']);
    assert.ok(cli !== 'help' && cli.stopAfterNonFinite === 3, 'the CLI flag sets it');
    const plain = parseCli([]);
    assert.ok(
      plain !== 'help' && plain.stopAfterNonFinite === undefined,
      "no flag: the trainer's default",
    );
  });
});

let data: MnistData;
let backend: BackendInfo;
let tmp: string;
/** The real trainer's events for a run that diverges from an overflowing checkpoint. */
let diverged: { events: TrainerEvent[]; error: unknown; resumedFrom: number };

before(async () => {
  ({ data, backend } = await wasmFixture());
  tmp = mkdtempSync(path.join(tmpdir(), 'livetrain-divergence-'));
  const hp = hyperparamsSchema.parse({ epochs: 1, trainLimit: 1600, testLimit: 100, seed: 3 });
  // A healthy start, stopped at step 20 with a checkpoint...
  const dir = path.join(tmp, 'ckpt');
  let first: ReturnType<typeof createTrainer>;
  const sink1 = recordingSink((e) => {
    if (e.type === 'metrics:batch' && e.point.step === 20) first.stop();
  });
  first = createTrainer(
    { runId: 'blowup', hyperparams: hp, data, backend, checkpointDir: dir },
    sink1,
  );
  await first.run();
  // ...whose weights are then made huge (finite: a valid checkpoint of a model about to blow
  // up), so that the next forward pass overflows to ±Infinity and the loss to NaN.
  const ckpt = await loadCheckpoint((await latestCheckpoint(dir))!);
  const huge: Checkpoint = {
    header: ckpt.header,
    tensors: new Map(
      [...ckpt.tensors].map(([name, t]) => [
        name,
        name.includes('/') ? t : { shape: t.shape, values: t.values.map((v) => v * 1e30) },
      ]),
    ),
  };
  const sink2 = recordingSink();
  let error: unknown = null;
  try {
    await createTrainer(
      {
        runId: 'blowup',
        hyperparams: hp,
        data,
        backend,
        checkpointDir: dir,
        resume: huge,
        reporting: { stopAfterNonFinite: 4 },
      },
      sink2,
    ).run();
  } catch (e) {
    error = e;
  }
  diverged = { events: sink2.events, error, resumedFrom: ckpt.header.step };
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the real fit loop: the loss becomes NaN, is sent as null with one note, and the run ends failed after 4 such batches', () => {
  const { events, error, resumedFrom } = diverged;
  assert.ok(error instanceof Diverged, `the run rejects with Diverged, got ${error}`);
  // Everything it sent is valid on the wire (a NaN would have failed the whole message).
  for (const e of events) assert.ok(trainerEventSchema.safeParse(e).success, JSON.stringify(e));
  const points = ofType(events, 'metrics:batch').map((e) => e.point);
  assert.equal(points.length, 4, 'four batches, then the stop');
  assert.deepEqual(
    points.map((p) => p.loss),
    [null, null, null, null],
  );
  assert.equal(points[0].step, resumedFrom + 1);
  const notes = ofType(events, 'metrics:nonfinite');
  assert.equal(notes.filter((n) => n.metric === 'loss').length, 1, 'one note for the stretch');
  assert.equal(
    describeNonFinite(notes[0]),
    `loss became ${notes[0].value} at step ${resumedFrom + 1}`,
  );
  const last = events.at(-1)!;
  assert.ok(last.type === 'status' && last.status === 'failed', JSON.stringify(last));
  assert.match(
    last.message ?? '',
    new RegExp(
      `loss was \\S+ from step ${resumedFrom + 1} on, 4 batches in a row: the run diverged`,
    ),
  );
  assert.equal(last.step, resumedFrom + 4);
});

/** The diverged events renumbered as a fresh run's, seq 1 on. */
const asRun = (runId: string, events: TrainerEvent[]): TrainerEvent[] =>
  events.map((e, i) => ({ ...e, runId, seq: i + 1 }));

function send(
  trainer: Socket,
  runId: string,
  events: TrainerEvent[],
): Promise<{ ok: boolean; data?: { storedSeq: number }; error?: string }> {
  return trainer.timeout(20_000).emitWithAck('trainer:events', { runId, events });
}

test('the hub stores the nulls, notes "loss became NaN at step N" once (also when sent twice), and shows the run failed with the reason', async (t) => {
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'diverging');
  const watched = await ada.call('run:watch', { runId });
  assert.ok(watched.ok);
  const events = asRun(runId, diverged.events);
  const notesSeen: WireAnnotation[] = [];
  ada.socket.on('annotation:added', (m: { annotation: WireAnnotation }) =>
    notesSeen.push(m.annotation),
  );

  const acked = await send(trainer, runId, events);
  assert.deepEqual(acked, { ok: true, data: { storedSeq: events.length } });
  // A resend (the trainer did not see the ack) stores nothing twice.
  assert.deepEqual(await send(trainer, runId, events), {
    ok: true,
    data: { storedSeq: events.length },
  });

  const nanAt = ofType(events, 'metrics:nonfinite')[0];
  const text = describeNonFinite(nanAt);
  const failedAt = ofType(events, 'status').at(-1)!;
  const ending = `the run failed at step ${failedAt.step}: ${failedAt.message}`;
  await eventually(() => notesSeen.length >= 2, 'the notes reached the watcher');
  assert.deepEqual(
    notesSeen.map((a) => [a.kind, a.text, a.step, a.authorName]),
    [
      ['event', text, nanAt.step, 'trainer'],
      ['event', ending, failedAt.step, 'trainer'],
    ],
  );

  const after = await ada.call('run:watch', { runId });
  assert.ok(after.ok);
  assert.deepEqual(
    snapshotPoints(after.data).map((p) => p.loss),
    [null, null, null, null],
    'stored as null, sent as null',
  );
  assert.deepEqual(
    after.data.annotations
      .filter((a) => a.kind === 'event' && a.authorName === 'trainer')
      .map((a) => a.text),
    [text, ending],
    'stored once each',
  );
  assert.equal(after.data.run.status, 'failed');
  assert.match(after.data.run.statusMessage ?? '', /the run diverged/);

  // The CSV leaves the loss cells empty (pandas reads NaN), it does not write 0 or "null".
  const csv = await (await fetch(`${hub.url}/api/runs/${runId}/export?format=csv`)).text();
  const rows = csv
    .trim()
    .split('\n')
    .slice(1)
    .map((r) => r.split(','));
  assert.equal(rows.length, 4);
  for (const r of rows) assert.equal(r[4], '', `loss cell of ${r.join(',')}`);
  // The runs list's sparkline leaves the diverged stretch out; it does not draw it as a loss of 0.
  const spark = (await (await fetch(`${hub.url}/api/runs/sparklines?ids=${runId}`)).json()) as {
    data: { sparklines: Record<string, number[]> };
  };
  assert.deepEqual(spark.data.sparklines[runId], []);
});

test('in Chromium: the loss chart breaks at the diverged stretch, the note and the reason are on the page', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const hub = await startHubProcess(['--no-local-trainer']);
  const ada = await connectBrowser(hub.url, 'Ada');
  const { socket: trainer, job } = await fakeTrainerTakingAJob(hub.url, 'diverging-page');
  t.after(async () => {
    ada.close();
    trainer.close();
    await browser.close();
    await hub.stop();
  });
  const started = await ada.call('run:start', { name: 'blew up', hyperparams: { epochs: 1 } });
  assert.ok(started.ok, JSON.stringify(started));
  const runId = await job;
  // 100 batches: finite, NaN for steps 41–50 (noted at 41), finite again, then failed.
  const events: TrainerEvent[] = [];
  const add = (e: UnstampedEvent) =>
    events.push({ ...e, runId, seq: events.length + 1 } as TrainerEvent);
  const { runId: _r, seq: _s, ...started0 } = ofType(diverged.events, 'run:started')[0];
  add({ ...started0, startStep: 0, totalSteps: 100, batchesPerEpoch: 100 });
  add({ type: 'status', status: 'running', step: 0, time: Date.now() });
  for (let step = 1; step <= 100; step++) {
    const bad = step > 40 && step <= 50;
    add({
      type: 'metrics:batch',
      point: {
        step,
        epoch: 1,
        batch: step - 1,
        loss: bad ? null : 2 - step / 100,
        accuracy: bad ? null : step * 0.9,
        learningRate: 0.01,
        samplesPerSec: 1000,
        time: Date.now() + step * 10,
      },
    });
    if (step === 41)
      add({ type: 'metrics:nonfinite', metric: 'loss', value: 'NaN', step, epoch: 1 });
  }
  add({
    type: 'status',
    status: 'failed',
    step: 100,
    time: Date.now() + 2000,
    message: 'the loss was NaN from step 41 on: the run diverged (test)',
  });
  assert.deepEqual(await send(trainer, runId, events), {
    ok: true,
    data: { storedSeq: events.length },
  });

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/runs/${runId}`);
  await page.getByTestId('annotation').filter({ hasText: 'loss became NaN at step 41' }).waitFor();
  await page.getByText('the run diverged (test)').first().waitFor();
  // Painted columns of the loss canvas: one stretch, a gap of unpainted columns, another.
  const gaps = await page.getByTestId('loss-chart').evaluate(async (el) => {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const canvas = el.querySelector('canvas')!;
    const {
      data: px,
      width,
      height,
    } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const painted: boolean[] = [];
    for (let x = 0; x < width; x++) {
      let any = false;
      for (let y = 0; y < height && !any; y++) any = px[(y * width + x) * 4 + 3] > 0;
      painted.push(any);
    }
    const first = painted.indexOf(true);
    const last = painted.lastIndexOf(true);
    const holes: Array<[number, number]> = [];
    for (let x = first; x <= last; x++) {
      if (painted[x]) continue;
      const start = x;
      while (x <= last && !painted[x]) x++;
      holes.push([(start - first) / (last - first), (x - first) / (last - first)]);
    }
    return holes.filter(([a, b]) => b - a > 0.02);
  });
  // The line is 100 steps wide; the hole spans steps 41–50 (from the last finite point, 40, to the next, 51).
  assert.equal(gaps.length, 1, `one gap in the line, got ${JSON.stringify(gaps)}`);
  const [[from, to]] = gaps;
  assert.ok(
    from > 0.35 && from < 0.45 && to > 0.45 && to < 0.56,
    `gap at ${from.toFixed(3)}–${to.toFixed(3)} of the line`,
  );
});
