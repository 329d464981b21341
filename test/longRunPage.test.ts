/**
 * Long runs in a real Chromium against a real hub process: a 30,000-point run's page draws its
 * overview (the caption says buckets of 64 steps), zooming asks the hub for the steps in view
 * and draws them raw, a reset goes back to the overview; the compare page overlays two such
 * runs the same way.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { TrainerEvent } from '../server/trainer/events';
import { ARTIFACTS, chromiumAndHub } from './helpers/browser';
import { eventually, fakeTrainerTakingAJob } from './helpers/hub';

const N = 30_000;

function events(runId: string, from: number, to: number, spikeAt: number): TrainerEvent[] {
  const out: TrainerEvent[] = [];
  for (let step = from; step <= to; step++) {
    out.push({
      runId,
      seq: step,
      type: 'metrics:batch',
      point: {
        step,
        epoch: Math.ceil(step / 1875),
        batch: (step - 1) % 1875,
        loss: step === spikeAt ? 9 : 2.3 / Math.sqrt(step),
        accuracy: 90,
        learningRate: 0.01,
        samplesPerSec: 2000,
        time: 1_700_000_000_000 + step * 10,
      },
    });
  }
  return out;
}

const caption = (page: Page, chart: string) =>
  page
    .locator(`[data-testid="${chart}"] .lt-caption`)
    .first()
    .evaluate((el) => el.firstChild?.nodeValue ?? '');

async function zoomIn(page: Page, selector: string, wheels: number): Promise<void> {
  const front = page.locator(`${selector} .lt-chart-front`).first();
  const box = (await front.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2);
  for (let i = 0; i < wheels; i++) await page.mouse.wheel(0, -500);
}

test("in Chromium: a long run opens as an overview, zooming draws the hub's raw points, the compare page overlays two", async (t) => {
  const both = await chromiumAndHub(t);
  if (!both) return;
  const { browser, hub } = both;
  const trainers = [
    await fakeTrainerTakingAJob(hub.url, 'long-a'),
    await fakeTrainerTakingAJob(hub.url, 'long-b'),
  ];
  t.after(() => trainers.forEach((tr) => tr.socket.close()));
  const start = async (name: string) => {
    const created = await fetch(`${hub.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, hyperparams: { epochs: 16 } }),
    });
    assert.equal(created.status, 201);
  };
  // Each trainer takes one run (one at a time each): the first run goes to one, the second to the other.
  await start('long a');
  const first = await Promise.race(trainers.map((tr, i) => tr.job.then((id) => ({ i, id }))));
  await start('long b');
  const held = [
    { runId: first.id, socket: trainers[first.i].socket },
    { runId: await trainers[1 - first.i].job, socket: trainers[1 - first.i].socket },
  ];
  const ids = held.map((h) => h.runId);
  for (const [k, { runId, socket }] of held.entries()) {
    for (let from = 1; from <= N; from += 5000) {
      const r = (await socket.timeout(60_000).emitWithAck('trainer:events', {
        runId,
        events: events(runId, from, Math.min(N, from + 4999), 12_345 + k * 1000),
      })) as { ok: boolean };
      assert.ok(r.ok);
    }
  }

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/runs/${ids[0]}`);
  await eventually(
    async () => (await caption(page, 'loss-chart')).includes('30,000 points (64-step buckets)'),
    'the loss chart draws the overview',
    60_000,
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'long-run-overview.png') });
  await zoomIn(page, '[data-testid="loss-chart"]', 5);
  await eventually(
    async () => /\(raw\).*zoomed/.test(await caption(page, 'loss-chart')),
    'zoomed, the chart draws the raw points the hub sent',
    30_000,
  );
  const zoomed = await caption(page, 'loss-chart');
  const shown = Number(/([\d,]+) points/.exec(zoomed)![1].replace(/,/g, ''));
  assert.ok(shown > 100 && shown < 3000, `about a thirty-second of the run in view: ${zoomed}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'long-run-zoomed.png') });
  await page.locator('[data-testid="loss-chart"] .lt-chart-front').dblclick();
  await eventually(
    async () => (await caption(page, 'loss-chart')).includes('30,000 points (64-step buckets)'),
    'reset: the overview again',
  );

  await page.goto(`${hub.url}/compare?runs=${ids.join(',')}`);
  const compare = '[data-testid="compare-batch"]';
  await eventually(
    async () =>
      (
        await page
          .locator(`${compare} .lt-caption`)
          .first()
          .evaluate((el) => el.firstChild?.nodeValue ?? '')
      ).includes('60,000 points (64-step buckets)'),
    'the compare page overlays both overviews',
    60_000,
  );
  await zoomIn(page, compare, 5);
  await eventually(
    async () =>
      /\(raw\).*zoomed/.test(
        await page
          .locator(`${compare} .lt-caption`)
          .first()
          .evaluate((el) => el.firstChild?.nodeValue ?? ''),
      ),
    'zoomed, both runs drawn raw',
    30_000,
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'long-run-compare-zoomed.png') });
  assert.deepEqual(errors, []);
  // A link naming more runs than the page overlays says so instead of dropping some in silence.
  const many = [...ids, ...Array.from({ length: 11 }, (_, i) => `not-a-run-${i}`)];
  await page.goto(`${hub.url}/compare?runs=${many.join(',')}`);
  const capped = await page.getByTestId('compare-capped').innerText();
  assert.match(capped, /names 13 runs; this page overlays at most 12, so it shows the first 12/);
});
