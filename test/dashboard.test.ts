/**
 * The dashboard in a real Chromium (Debian's, driven by playwright-core) against a real hub
 * process with its local trainer: two browser contexts are two people. Screenshots of each
 * page go to artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { ARTIFACTS, launchChromium, startHubProcess } from './helpers/browser';
import { eventually } from './helpers/hub';

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const stepOf = async (page: Page) =>
  Number(
    (await page.getByTestId('progress-step').innerText()).split('/')[0].replace(/[^\d]/g, '') || 0,
  );
/**
 * What the loss chart draws: the points its caption says it holds, and its canvas's painted
 * pixels (how many, and a fingerprint of where), so a chart that stopped redrawing shows.
 */
const drawnOf = (page: Page) =>
  page.getByTestId('loss-chart').evaluate((el) => {
    const caption = el.querySelector('.lt-caption')?.textContent ?? '';
    const points = Number(
      (/([\d,]+) points?(?: \((?:raw|[\d,]+-step buckets)\))? →/.exec(caption)?.[1] ?? '0').replace(
        /,/g,
        '',
      ),
    );
    const canvas = el.querySelector('canvas');
    const ctx = canvas?.getContext('2d');
    let painted = 0;
    let print = 0;
    if (canvas && ctx && canvas.width > 0 && canvas.height > 0) {
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 3; i < data.length; i += 4) {
        if (data[i] === 0) continue;
        painted++;
        print = (Math.imul(print, 31) + i) >>> 0;
      }
    }
    return { points, painted, print };
  });

test('two people share runs in real browsers: start, watch, annotate, control, review, compare, draw', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  let hub = await startHubProcess();
  t.after(async () => {
    await browser.close();
    await hub.stop();
  });
  const errors: string[] = [];
  const contexts = await Promise.all(
    [0, 1].map(() => browser.newContext({ viewport: { width: 1280, height: 800 } })),
  );
  await contexts[1].addInitScript(() => localStorage.setItem('livetrain.name', 'Bob'));
  // Layout shifts (CLS) are recorded from the start of every page.
  for (const c of contexts) {
    await c.addInitScript(() => {
      const w = window as unknown as { __shift: number };
      w.__shift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as unknown as Array<{
          value: number;
          hadRecentInput: boolean;
          sources?: Array<{ node?: Node }>;
        }>) {
          if (e.hadRecentInput) continue;
          w.__shift += e.value;
          // Which elements moved, for the failure message.
          const names = (e.sources ?? []).map((src) =>
            src.node instanceof Element
              ? `${src.node.tagName.toLowerCase()}.${src.node.className}`
              : String(src.node?.nodeName),
          );
          (w as unknown as { __shifted: string[] }).__shifted = [
            ...((w as unknown as { __shifted?: string[] }).__shifted ?? []),
            `${e.value.toFixed(4)} ${names.join(' ')}`,
          ];
        }
      }).observe({ type: 'layout-shift', buffered: true });
    });
  }
  const [ada, bob] = await Promise.all(contexts.map((c) => c.newPage()));
  for (const p of [ada, bob]) p.on('pageerror', (e) => errors.push(e.message));

  // Bob waits on the runs page; Ada arrives for the first time and is asked for her name.
  await bob.goto(`${hub.url}/`);
  await ada.goto(`${hub.url}/`);
  await ada.getByLabel('Display name').fill('Ada');
  await ada.getByRole('button', { name: 'Continue' }).click();
  await bob.getByTestId('presence-user').filter({ hasText: 'Ada' }).first().waitFor();

  // A bad value is refused in the form, with the field's message.
  await ada.getByLabel('Epochs').fill('0');
  await ada.getByRole('button', { name: 'Start run' }).click();
  await ada.locator('#err-epochs').waitFor();
  await ada.getByLabel('Run name').or(ada.getByLabel('Name (optional)')).fill('shared run');
  await ada.getByLabel('Epochs').fill('60');
  await ada.getByLabel(/^Training digits/).fill('640');
  await ada.getByLabel(/^Test digits/).fill('200');
  await shot(ada, '1-runs-form');
  await ada.getByRole('button', { name: 'Start run' }).click();
  await ada.waitForURL(/\/runs\/[^/]+$/);
  const runId = ada.url().split('/').pop()!;

  // Bob sees it appear in the list and opens it.
  const row = bob.locator(`[data-run-id="${runId}"]`);
  await row.waitFor();
  await shot(bob, '2-runs-live');
  await row.getByRole('link', { name: 'shared run' }).click();
  await bob.waitForURL(`**/runs/${runId}`);

  // Both see the curve grow: more points drawn, and other pixels painted on the plot.
  await eventually(
    async () => (await stepOf(ada)) > 0 && (await stepOf(bob)) > 0,
    'both see steps',
  );
  await eventually(
    async () => (await drawnOf(ada)).painted > 0 && (await drawnOf(bob)).painted > 0,
    'both charts draw a line',
  );
  const before = await stepOf(bob);
  const [drawnAda, drawnBob] = [await drawnOf(ada), await drawnOf(bob)];
  const shiftBefore = await bob.evaluate(() => (window as unknown as { __shift: number }).__shift);
  await eventually(
    async () => (await stepOf(bob)) > before + 20 && (await stepOf(ada)) > before,
    'the run goes on',
  );
  await eventually(async () => {
    const [a, b] = [await drawnOf(ada), await drawnOf(bob)];
    return (
      b.points > drawnBob.points + 20 &&
      a.points > drawnAda.points &&
      a.print !== drawnAda.print &&
      b.print !== drawnBob.print
    );
  }, 'the drawn curve grows for both');
  const shiftDuring =
    (await bob.evaluate(() => (window as unknown as { __shift: number }).__shift)) - shiftBefore;
  const shifted = await bob.evaluate(
    () => (window as unknown as { __shifted?: string[] }).__shifted ?? [],
  );
  assert.ok(
    shiftDuring < 0.01,
    `no layout shift while points stream (CLS ${shiftDuring.toFixed(4)}: ${shifted.join('; ')})`,
  );

  // Every control has a name a screen reader can announce, and is reachable by keyboard.
  const unnamed = await bob.evaluate(() =>
    [...document.querySelectorAll('button, input, select, textarea, a[href]')]
      .filter((el) => {
        const e = el as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> };
        const named =
          e.getAttribute('aria-label') ||
          e.getAttribute('aria-labelledby') ||
          e.labels?.length ||
          e.textContent?.trim() ||
          e.getAttribute('title');
        return !named || e.tabIndex < 0;
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unnamed, [], 'unnamed or unreachable controls');

  // Bob pins a note on the loss curve; Ada sees it in the list and as a marker on her chart.
  // A click where a person would click: on the plot, whatever layer is on top.
  const plot = (await bob.getByTestId('loss-chart').locator('canvas').first().boundingBox())!;
  await bob.mouse.click(plot.x + plot.width * 0.5, plot.y + plot.height * 0.45);
  await bob.getByRole('textbox', { name: /^Note at step/ }).fill('Bob was here <b>bold?</b>');
  await bob.getByRole('button', { name: 'Add note' }).click();
  await ada.getByTestId('annotation').filter({ hasText: 'Bob was here <b>bold?</b>' }).waitFor();
  await ada
    .getByTestId('loss-chart')
    .locator('[aria-label*="Bob was here"]')
    .first()
    .waitFor({ state: 'attached' });

  // Ada pauses, changes the learning rate, resumes and stops; Bob sees each.
  const status = (p: Page) => p.getByTestId('run-status').first();
  await ada.getByRole('button', { name: 'Pause' }).click();
  await eventually(async () => (await status(bob).innerText()) === 'paused', 'Bob sees paused');
  // Paused: no speed and no ETA that pretend it is training.
  await eventually(
    async () => (await bob.getByTestId('progress-eta').innerText()) === 'paused',
    'the ETA says paused',
  );
  assert.equal(await bob.getByTestId('progress-speed').innerText(), 'paused');
  await ada.getByLabel('Learning rate', { exact: true }).fill('0.05');
  await ada.getByRole('button', { name: 'Set', exact: true }).click();
  await bob
    .getByTestId('annotation')
    .filter({ hasText: 'Ada changed the learning rate' })
    .waitFor();
  // A refused rate says why, in words, and the message goes once the run's status changes.
  await ada.getByLabel('Learning rate', { exact: true }).fill('0');
  await ada.getByRole('button', { name: 'Set', exact: true }).click();
  const controlsError = ada.getByRole('group', { name: 'Run controls' }).getByRole('alert');
  assert.equal(
    await controlsError.innerText(),
    'Learning rate: a number above 0 and at most 10, got 0.',
  );
  await ada.getByRole('button', { name: 'Resume' }).click();
  await controlsError.waitFor({ state: 'detached' });
  await eventually(async () => (await status(bob).innerText()) === 'running', 'Bob sees running');
  // The new rate shows where people look: the header (with its history) and its own chart.
  await eventually(
    async () =>
      /^lr 0\.05 \(0\.01 → 0\.05 at step [\d,]+\)$/.test(
        await bob.getByTestId('run-lr').innerText(),
      ),
    'the header shows lr 0.05 and its history',
  );
  assert.match(
    await bob.getByTestId('progress-speed').innerText(),
    /^[\d,]+$/,
    'training again: a speed',
  );
  await eventually(
    async () =>
      (
        (await bob.getByTestId('lr-chart').locator('[role="img"]').getAttribute('aria-label')) ?? ''
      ).includes('learning rate 0.05'),
    'the learning-rate chart reaches 0.05',
  );
  await shot(bob, '3-run-live');
  // The tab says which run; the hub serves the icon the page links to.
  assert.equal(await bob.title(), 'shared run · Livetrain');
  const icon = await bob.locator('link[rel="icon"]').first().getAttribute('href');
  assert.ok(icon, 'a favicon link');
  const iconAnswer = await fetch(new URL(icon, hub.url));
  assert.equal(iconAnswer.status, 200);
  assert.match(iconAnswer.headers.get('content-type') ?? '', /image\/svg\+xml/);
  // A log-scale y axis: a decade's minor ticks go unlabelled, which a linear axis never has.
  const unlabelledTicks = () =>
    bob
      .getByTestId('loss-chart')
      .locator('.lt-axis-y .tick text')
      .evaluateAll((ts) => ts.filter((t) => (t.textContent ?? '') === '').length);
  assert.equal(await unlabelledTicks(), 0);
  await bob.getByRole('checkbox', { name: 'log scale' }).check();
  await eventually(async () => (await unlabelledTicks()) > 0, 'the loss axis turns logarithmic');
  await bob.getByRole('checkbox', { name: 'log scale' }).uncheck();
  // An exported chart says what it is and whose: its title, the metric, the run's name.
  const [download] = await Promise.all([
    bob.waitForEvent('download'),
    bob.getByTestId('loss-chart').getByRole('button', { name: 'SVG' }).click(),
  ]);
  const svg = await new Promise<string>((resolve, reject) => {
    void download.createReadStream().then((stream) => {
      let text = '';
      stream.on('data', (c) => (text += c));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
  });
  assert.ok(
    svg.includes('Batch loss') && svg.includes('shared run'),
    `the SVG carries its title and run name (${svg.length} bytes)`,
  );
  await ada.getByRole('button', { name: 'Stop' }).click();
  await eventually(async () => (await status(bob).innerText()) === 'stopped', 'Bob sees stopped');
  for (const verb of ['paused', 'resumed', 'stopped'])
    await bob
      .getByTestId('annotation')
      .filter({ hasText: `Ada ${verb} the run` })
      .waitFor();

  // A short run that completes; after a reload its page shows the epoch plots, the confusion
  // matrix and misclassified digits.
  const created = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'short run',
      hyperparams: { epochs: 2, trainLimit: 640, testLimit: 200 },
    }),
  });
  const shortId = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(
    async () =>
      (
        (await (await fetch(`${hub.url}/api/runs/${shortId}`)).json()) as {
          data: { run: { status: string } };
        }
      ).data.run.status === 'completed',
    'short run completed',
    60_000,
  );
  await bob.goto(`${hub.url}/runs/${shortId}`);
  await bob.reload();
  await eventually(
    async () => (await status(bob).innerText()) === 'completed',
    'completed after reload',
  );
  await bob.getByTestId('epoch-loss-chart').locator('svg[aria-label*="poch"]').first().waitFor();
  // Two epochs: a train and a test line, each through a point per epoch.
  const epochLines = await bob
    .getByTestId('epoch-loss-chart')
    .locator('path.lt-epoch-line')
    .evaluateAll((paths) =>
      paths.map((p) => (p.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0),
    );
  assert.deepEqual(
    epochLines,
    [2, 2],
    'the epoch loss plot draws train and test through both epochs',
  );
  const epochPoints = await bob
    .getByTestId('epoch-loss-chart')
    .locator('circle title')
    .allTextContents();
  assert.deepEqual(
    epochPoints.map((t) => / · epoch (\d) · (train|test) /.exec(t)?.slice(1).join(' ')).sort(),
    ['1 test', '1 train', '2 test', '2 train'],
  );
  assert.equal(
    await bob.locator('[aria-label^="true "][aria-label*=" predicted "]').count(),
    100,
    'a 10×10 confusion matrix',
  );
  await bob.locator('.mis-grid__list li canvas').first().waitFor();
  assert.ok((await bob.locator('.mis-grid__list li').count()) > 0, 'misclassified digits shown');
  await shot(bob, '4-run-review');

  // Compare the two runs.
  await ada.goto(`${hub.url}/compare?runs=${runId},${shortId}`);
  const table = ada.getByTestId('compare-table');
  await table.getByText('short run').waitFor();
  await table.getByText('shared run').waitFor();
  assert.equal(await ada.title(), 'Compare shared run, short run · Livetrain');
  const rates = await table.getByTestId('compare-learningRate').allInnerTexts();
  assert.ok(
    rates.some((r) => /^0\.05 \(0\.01 → 0\.05 at step [\d,]+\)$/.test(r)) && rates.includes('0.01'),
    `the compare table shows the rates as they are: ${rates.join(' | ')}`,
  );
  assert.ok((await ada.getByTestId('compare-batch').locator('canvas').count()) >= 2);
  // Hovering the loss chart just inside its plot's left edge (the first steps, which both runs
  // have): both runs' values.
  const lossCanvas = (await ada
    .getByTestId('compare-batch')
    .locator('canvas')
    .first()
    .boundingBox())!;
  await ada.mouse.move(lossCanvas.x + 64, lossCanvas.y + lossCanvas.height * 0.5);
  const readout = ada.getByTestId('compare-batch').locator('.lt-readout').first();
  await eventually(async () => {
    const text = (await readout.textContent()) ?? '';
    return (
      text.includes('shared run') && text.includes('short run') && !text.includes('no point here')
    );
  }, "the compare hover shows both runs' values at that step");
  await shot(ada, '5-compare');

  // Draw a digit on the completed run: the checkpoint predicts it.
  await ada.goto(`${hub.url}/runs/${shortId}`);
  const pad = ada.getByLabel(/^Drawing area/);
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  await ada.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2);
  await ada.mouse.down();
  for (const [fx, fy] of [
    [0.7, 0.2],
    [0.45, 0.85],
  ])
    await ada.mouse.move(box.x + box.width * fx, box.y + box.height * fy, { steps: 12 });
  await ada.mouse.up();
  await ada.getByText(/Looks like a/).waitFor({ timeout: 20_000 });
  await shot(ada, '6-draw');

  // A narrow window: no horizontal scrolling on the run page and the runs page.
  await ada.setViewportSize({ width: 420, height: 800 });
  for (const url of [`${hub.url}/runs/${shortId}`, `${hub.url}/`]) {
    await ada.goto(url);
    await ada.getByTestId('run-status').first().waitFor();
    const overflow = await ada.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    assert.ok(overflow <= 1, `${url}: ${overflow}px wider than a 420px window`);
  }
  await shot(ada, '7-narrow-runs');

  // An unknown run is a readable message, not a blank page.
  await ada.goto(`${hub.url}/runs/no-such-run`);
  await ada.getByRole('heading', { name: 'Run not available' }).waitFor();
  await ada.getByText('no run no-such-run').waitFor();

  // The hub restarts: the pages notice, reconnect by themselves, say hello again and follow
  // live updates from the new process.
  await bob.goto(`${hub.url}/`);
  await bob.locator(`[data-run-id="${shortId}"]`).waitFor();
  const port = Number(new URL(hub.url).port);
  await hub.stop({ keepData: true });
  await eventually(
    async () => (await bob.locator('.conn').innerText()) === 'offline',
    'Bob sees the connection drop',
  );
  hub = await startHubProcess([], { port, dir: hub.dir });
  await eventually(
    async () => (await bob.locator('.conn').innerText()) === 'live',
    'Bob reconnects by himself',
    30_000,
  );
  const after = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'after the restart',
      hyperparams: { epochs: 1, trainLimit: 320, testLimit: 100 },
    }),
  });
  assert.equal(after.status, 201);
  await bob.getByRole('link', { name: 'after the restart' }).waitFor();
  await bob.getByTestId('presence-user').filter({ hasText: 'Bo' }).first().waitFor();

  assert.deepEqual(errors, [], 'no page errors');
});
