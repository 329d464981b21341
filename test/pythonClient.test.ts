/**
 * docs/protocol.md is enough to write a client: a python-socketio client (Debian's
 * python3-socketio, test/fixtures/long_run_client.py, written from the page alone) opens a
 * 30,000-point run on a real hub, decodes the snapshot's binary columns (head, overview,
 * tail), finds the planted loss spike in the overview and asks for the steps around it.
 * Skipped with the reason where python3-socketio is missing, unless LIVETRAIN_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { WirePoint } from '../server/protocol';
import type { TrainerEvent } from '../server/trainer/events';
import { servicesRequired } from './helpers/db';
import { runOnFakeTrainer } from './helpers/hub';
import { ROOT } from './helpers/proc';

const SPIKE = 12_345;
const points: WirePoint[] = Array.from({ length: 30_000 }, (_, i) => {
  const step = i + 1;
  return {
    seq: step,
    step,
    epoch: Math.ceil(step / 1875),
    batch: (step - 1) % 1875,
    loss: step === SPIKE ? 50 : 2.3 / Math.sqrt(step),
    accuracy: 90,
    learningRate: 0.01,
    samplesPerSec: 2000,
    time: 1_700_000_000_000 + step,
  };
});

/** Debian's Python, where its python3-socketio package is (a pyenv `python3` first on PATH has not got it). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function python(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, args, { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('a python-socketio client following docs/protocol.md opens a long run, decodes the overview and asks for a range', async (t) => {
  const probe = spawnSync(PYTHON, ['-c', 'import socketio, websocket'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const reason =
      'python3-socketio (and python3-websocket) are not installed: apt-get install python3-socketio python3-websocket';
    if (servicesRequired())
      throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires them`);
    return t.skip(reason);
  }
  const { hub, trainer, runId } = await runOnFakeTrainer(t, 'py-trainer');
  for (let i = 0; i < points.length; i += 5000) {
    const events: TrainerEvent[] = points
      .slice(i, i + 5000)
      .map(({ seq, ...point }) => ({ runId, seq, type: 'metrics:batch', point }));
    assert.ok((await trainer.timeout(60_000).emitWithAck('trainer:events', { runId, events })).ok);
  }
  const r = await python(['test/fixtures/long_run_client.py', hub.url, runId]);
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(seen.points, 30_000);
  assert.equal(seen.counted, 30_000, 'head + overview + tail, decoded in Python, hold every point');
  assert.equal(seen.width, 64);
  assert.equal(seen.overviewFirst, seen.headLast + 1);
  assert.equal(seen.spikeStep, SPIKE, 'the spike is found at its step from the buckets');
  assert.equal(seen.spikeLoss, 50);
  assert.equal(seen.rangeKind, 'raw');
  assert.deepEqual(
    seen.rangeSteps,
    points.slice(SPIKE - 51, SPIKE + 49).map((p) => p.step),
    'the range: its raw steps',
  );
  assert.deepEqual(
    seen.rangeLoss,
    points.slice(SPIKE - 51, SPIKE + 49).map((p) => p.loss),
    'and their values, exactly',
  );
});
