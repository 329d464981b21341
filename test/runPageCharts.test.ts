/**
 * The run page and its charts in a real Chromium against a real hub process (issue 18), with a
 * hand-written trainer that answers job:control as the trainer does: a queued run says where
 * it waits, live; a rate set while paused shows at once, the same rate again is refused in
 * words inline; the learning rate after a pause is drawn on the time axis when it comes as the
 * hub's buckets; log scale leaves accuracy linear; samples/s ticks are plain numbers; markers
 * have labels on hover and in exports, whose names are slugged and legends whole; a note is
 * pinned at the step clicked and its form does not move the chart; one epoch is not a lone
 * dot; a finished run leaves no empty controls row and its header lists the digits.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import type { RunSummary } from '../server/protocol';
import { ARTIFACTS, chromiumAndHub } from './helpers/browser';
import { eventually, fakeTrainerTakingAJob } from './helpers/hub';

const NAME = 'sgd baseline (lr change)';
const PAUSE_AFTER = 400;
const STEPS = 4000;
const T0 = 1_700_000_000_000;

/** Columns of a chart's canvas (inside its plot) with any painted pixel. */
const paintedColumns = (page: Page, chart: string) =>
  page
    .getByTestId(chart)
    .locator('canvas')
    .evaluate((canvas: HTMLCanvasElement) => {
      const ctx = canvas.getContext('2d')!;
      const { data, width, height } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const dpr = canvas.width / canvas.getBoundingClientRect().width;
      let painted = 0;
      for (let x = Math.ceil(52 * dpr); x < width - Math.ceil(24 * dpr); x++) {
        for (let y = 0; y < height; y++) {
          if (data[4 * (y * width + x) + 3] > 0) {
            painted++;
            break;
          }
        }
      }
      return painted;
    });
const tickTexts = (page: Page, chart: string, axis: 'x' | 'y') =>
  page.getByTestId(chart).locator(`.lt-axis-${axis} .tick text`).allTextContents();

test('in Chromium: the run page from queued to finished, with its charts, controls and notes', async (t) => {
  const both = await chromiumAndHub(t);
  if (!both) return;
  const { browser, hub } = both;
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((s) => s.close()));
  const post = async (url: string, payload: unknown) => {
    const r = await fetch(`${hub.url}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    const body = (await r.json()) as { data: { run: RunSummary } };
    assert.ok(r.ok, `${url}: ${r.status} ${JSON.stringify(body)}`);
    return body.data;
  };
  const first = (
    await post('/api/runs', {
      name: NAME,
      hyperparams: { epochs: 1, optimizer: 'sgd', learningRate: 0.01 },
    })
  ).run;
  const second = (await post('/api/runs', { name: 'waiting second', hyperparams: { epochs: 1 } }))
    .run;

  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  await context.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const other = await context.newPage();

  // Queued: where it waits, no empty charts.
  await page.goto(`${hub.url}/runs/${first.id}`);
  await other.goto(`${hub.url}/runs/${second.id}`);
  const place = (p: Page) => p.getByTestId('queue-place');
  await eventually(
    async () =>
      /^Waiting for a trainer \(next in the queue\): no trainer is connected/.test(
        await place(page).innerText(),
      ),
    'the first run is next, with no trainer',
  );
  await eventually(
    async () =>
      /^Waiting for a trainer \(1 run ahead in the queue\)/.test(await place(other).innerText()),
    'the second has one run ahead',
  );
  assert.equal(await page.getByTestId('loss-chart').count(), 0, 'no empty charts while queued');
  await page.screenshot({ path: path.join(ARTIFACTS, 'run-queued.png') });

  // A trainer takes the first; the second's page follows without a reload.
  const trainer = await fakeTrainerTakingAJob(hub.url, 'page-trainer');
  sockets.push(trainer.socket);
  assert.equal(await trainer.job, first.id);
  await eventually(
    async () => (await place(other).innerText()) === 'Waiting for a trainer (next in the queue).',
    'the second run moved up, live',
  );
  await post(`/api/runs/${second.id}/stop`, {});
  await other.close();

  const runId = first.id;
  let seq = 0;
  let step = 0;
  let time = T0;
  const send = async (events: Array<Record<string, unknown>>) => {
    const r = (await trainer.socket.timeout(60_000).emitWithAck('trainer:events', {
      runId,
      events: events.map((e) => ({ ...e, runId, seq: ++seq })),
    })) as { ok: boolean };
    assert.ok(r.ok, JSON.stringify(r));
  };
  const batches = (n: number, learningRate: number) =>
    Array.from({ length: n }, () => {
      step++;
      time += 100;
      return {
        type: 'metrics:batch',
        point: {
          step,
          epoch: 1,
          batch: step - 1,
          loss: 2.3 / Math.sqrt(step),
          accuracy: Math.min(99, 20 + step / 50),
          learningRate,
          samplesPerSec: 0.5 + 0.3 * Math.sin(step / 50),
          time,
        },
      };
    });
  trainer.socket.on(
    'job:control',
    (c: { action: 'pause' | 'resume' | 'set-lr' | 'stop'; learningRate?: number }) => {
      const events: Array<Record<string, unknown>> = [
        {
          type: 'control',
          action: c.action,
          step,
          ...(c.learningRate ? { learningRate: c.learningRate } : {}),
        },
      ];
      if (c.action === 'pause')
        events.push({ type: 'status', status: 'paused', step, time: Date.now() });
      if (c.action === 'resume')
        events.push({ type: 'status', status: 'running', step, time: Date.now() });
      void send(events);
    },
  );
  await send([
    {
      type: 'run:started',
      hyperparams: first.hyperparams,
      backend: { name: 'wasm', device: 'cpu', host: 'test' },
      trainSize: 60_000,
      testSize: 10_000,
      batchesPerEpoch: STEPS,
      totalSteps: STEPS,
      startStep: 0,
      parameterCount: 1,
      time: T0,
    },
    { type: 'status', status: 'running', step: 0, time: T0 },
    ...batches(PAUSE_AFTER, 0.01),
  ]);
  await page.getByTestId('loss-chart').waitFor();

  // Paused, a new rate: the header and the box say so at once.
  const controls = page.getByRole('group', { name: 'Run controls' });
  await controls.getByRole('button', { name: 'Pause' }).click();
  await page.getByTestId('run-status').first().filter({ hasText: 'paused' }).waitFor();
  const rate = page.getByLabel('Learning rate', { exact: true });
  await rate.fill('0.05');
  await controls.getByRole('button', { name: 'Set', exact: true }).click();
  await eventually(
    async () =>
      (await page.getByTestId('run-lr').innerText()) ===
      `lr 0.05, takes effect on resume (0.01 → 0.05 at step ${PAUSE_AFTER + 1})`,
    'the header shows the new rate while paused',
  );
  assert.equal(await rate.getAttribute('placeholder'), '0.05');
  // The same rate again: the hub's refusal, inline, in words.
  await rate.fill('0.05');
  await controls.getByRole('button', { name: 'Set', exact: true }).click();
  const alert = controls.getByRole('alert');
  await eventually(
    async () =>
      (await alert.innerText()) ===
      'The learning rate is 0.05 already; enter a different rate to change it.',
    'the same rate is refused in words',
  );
  // Out of bounds: our message only (no browser bubble: the form does not validate natively), gone once the input changes.
  await rate.fill('20');
  assert.equal(await alert.count(), 0, 'a changed input clears the last message');
  await controls.getByRole('button', { name: 'Set', exact: true }).click();
  assert.equal(await alert.innerText(), 'Learning rate: a number above 0 and at most 10, got 20.');
  assert.equal(
    await page.locator('form.lr-form').evaluate((f: HTMLFormElement) => f.noValidate),
    true,
  );
  assert.equal(
    await rate.evaluate((i: HTMLInputElement) => i.validationMessage),
    '',
    "no constraint of the browser's own to bubble",
  );
  await rate.fill('0.1');
  assert.equal(await alert.count(), 0);
  await rate.fill('');
  await controls.getByRole('button', { name: 'Resume' }).click();
  await page.getByTestId('run-status').first().filter({ hasText: 'running' }).waitFor();
  time += 20_000;
  for (let i = 0; i < 4; i++) await send(batches((STEPS - PAUSE_AFTER) / 4, 0.05));
  await eventually(
    async () =>
      (await page.getByTestId('run-lr').innerText()) ===
      `lr 0.05 (0.01 → 0.05 at step ${PAUSE_AFTER + 1})`,
    'in effect after the resume',
  );

  // Reloaded, the page gets the hub's overview (buckets between the head and the tail).
  await page.reload();
  await page
    .getByTestId('lr-chart')
    .locator('.lt-caption')
    .filter({ hasText: 'buckets' })
    .waitFor();
  const stepColumns = await eventually(
    async () => (await paintedColumns(page, 'lr-chart')) || undefined,
    'the learning-rate chart drawn',
  );
  await page.getByLabel('x axis').selectOption('time');
  await page.waitForTimeout(1500); // the learning-rate chart redraws at most once a second
  const timeColumns = await paintedColumns(page, 'lr-chart');
  // The pause is 20 s of 420: about 5 % of the width is rightly empty on the time axis.
  assert.ok(
    timeColumns > 0.88 * stepColumns,
    `on the time axis the learning rate is drawn across ${timeColumns} columns, on the step axis ${stepColumns}`,
  );
  await page
    .getByTestId('lr-chart')
    .screenshot({ path: path.join(ARTIFACTS, 'run-lr-time-axis.png') });
  await page.getByLabel('x axis').selectOption('step');

  // Log scale: the loss axis turns logarithmic (unlabelled minor ticks); accuracy stays linear, at most 100 %.
  await page.getByRole('checkbox', { name: 'log scale' }).check();
  await eventually(
    async () => (await tickTexts(page, 'loss-chart', 'y')).some((s) => s === ''),
    'the loss axis is logarithmic',
  );
  const accuracyTicks = await tickTexts(page, 'accuracy-chart', 'y');
  assert.ok(
    accuracyTicks.every((s) => s !== '' && Number.parseFloat(s) <= 100),
    `accuracy ticks: ${accuracyTicks.join(' ')}`,
  );
  await page.getByRole('checkbox', { name: 'log scale' }).uncheck();
  const speedTicks = await tickTexts(page, 'speed-chart', 'y');
  assert.ok(
    speedTicks.length > 0 && speedTicks.every((s) => /^[\d,.]+$/.test(s)),
    `samples/s ticks are plain numbers: ${speedTicks.join(' ')}`,
  );

  // Markers: a label on hover; in an export every label, the whole run name, a slugged file name.
  // Three markers share step 400 (paused, the rate, resumed): the one drawn last is on top.
  const flag = page.getByTestId('loss-chart').locator('.lt-flag-event').last();
  await flag.locator('.lt-flag-mark').hover();
  const label = flag.locator('.lt-flag-label');
  assert.notEqual(
    await label.evaluate((el) => getComputedStyle(el).display),
    'none',
    'the hovered marker shows its label',
  );
  assert.ok(['paused', 'resumed', 'lr 0.01 → 0.05'].includes((await label.textContent()) ?? ''));
  await page.mouse.move(0, 0);
  const [svgDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('loss-chart').getByRole('button', { name: 'SVG' }).click(),
  ]);
  assert.equal(
    svgDownload.suggestedFilename(),
    `livetrain-sgd_baseline_lr_change_-${runId}-loss.svg`,
  );
  const svg = await new Promise<string>((resolve, reject) => {
    void svgDownload.createReadStream().then((stream) => {
      let text = '';
      stream.on('data', (c) => (text += c));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
  });
  for (const text of ['paused', 'resumed', 'lr 0.01 → 0.05', NAME])
    assert.ok(svg.includes(`>${text}<`), `the export shows "${text}"`);
  assert.ok(!/lt-flag-label[^>]*display:\s*none/.test(svg) && !svg.includes('chan…'));
  const [pngDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('loss-chart').getByRole('button', { name: 'PNG' }).click(),
  ]);
  assert.equal(
    pngDownload.suggestedFilename(),
    `livetrain-sgd_baseline_lr_change_-${runId}-loss.png`,
  );

  // A note pinned where the readout says, and opening its form moves no chart.
  const canvas = page.getByTestId('loss-chart').locator('canvas');
  const before = (await canvas.boundingBox())!;
  await page.mouse.move(before.x + before.width * 0.7, before.y + before.height * 0.5);
  const readout = await page
    .getByTestId('loss-chart')
    .locator('.lt-readout text')
    .first()
    .textContent();
  const hovered = Number(/step ([\d,]+)/.exec(readout ?? '')?.[1].replace(/,/g, ''));
  assert.ok(hovered > 0, `the readout names a step (${readout})`);
  await page.mouse.click(before.x + before.width * 0.7, before.y + before.height * 0.5);
  const box = page.getByRole('textbox', { name: /^Note at step/ });
  await box.waitFor();
  assert.equal(
    await page.locator('label[for="note-text"]').innerText(),
    `Note at step ${hovered}`,
    'the form is for the step the readout named',
  );
  assert.deepEqual(
    await canvas.boundingBox(),
    before,
    'the chart did not move when the form opened',
  );
  await box.fill('pinned where clicked');
  await page.getByRole('button', { name: 'Add note' }).click();
  await page.getByTestId('annotation').filter({ hasText: 'pinned where clicked' }).waitFor();
  const notes = (
    (await (await fetch(`${hub.url}/api/runs/${runId}/annotations`)).json()) as {
      data: { annotations: Array<{ text: string; step: number }> };
    }
  ).data.annotations;
  assert.equal(notes.find((n) => n.text === 'pinned where clicked')?.step, hovered);

  // One epoch, then the run ends.
  const confusion = Array.from({ length: 10 }, (_, i) =>
    Array.from({ length: 10 }, (_, j) => (i === j ? 900 : 10)),
  );
  await send([
    {
      type: 'metrics:epoch',
      summary: {
        epoch: 1,
        step,
        trainLoss: 0.31,
        trainAccuracy: 91.5,
        testLoss: 0.28,
        testAccuracy: 92.25,
        confusion,
        samplesPerSec: 0.6,
        trainMs: 420_000,
        evalMs: 5000,
      },
    },
    { type: 'status', status: 'completed', step, time: time + 6000 },
  ]);
  await page.getByTestId('run-status').first().filter({ hasText: 'completed' }).waitFor();
  await page.getByTestId('epoch-loss-chart').locator('text.lt-epoch-value').first().waitFor();
  assert.deepEqual(await tickTexts(page, 'epoch-loss-chart', 'x'), ['1'], 'one epoch, one tick');
  assert.deepEqual(
    await page.getByTestId('epoch-loss-chart').locator('text.lt-epoch-value').allTextContents(),
    ['train 0.31', 'test 0.28'],
  );
  const dot = (await page.getByTestId('epoch-loss-chart').locator('circle').first().boundingBox())!;
  const plotBox = (await page
    .getByTestId('epoch-loss-chart')
    .locator('svg')
    .first()
    .boundingBox())!;
  assert.ok(
    Math.abs(dot.x + dot.width / 2 - (plotBox.x + plotBox.width / 2)) < plotBox.width * 0.1,
    'the epoch sits mid-axis',
  );
  assert.equal(
    await page.getByRole('group', { name: 'Run controls' }).count(),
    0,
    'no controls row left once the run has ended',
  );
  const facts = await page.locator('.run-header p').first().innerText();
  const parts = facts.split(' · ');
  const hp = first.hyperparams;
  assert.deepEqual(parts.slice(2), [
    'sgd',
    'lr 0.05 (0.01 → 0.05 at step 401)',
    `momentum ${hp.momentum}`,
    `batch ${hp.batchSize}`,
    `seed ${hp.seed}`,
    '60,000 training / 10,000 test digits',
  ]);
  assert.ok(
    parts.every((p) => p.trim() === p && p !== ''),
    `one separator between every two facts: "${facts}"`,
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'run-finished.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
