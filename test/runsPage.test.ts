/**
 * The runs page at 10,000 runs in Chromium, over a real hub process and SQLite file: it shows
 * them a page at a time ("runs 51–100 of 9,800"), sorts by a header click, filters by text
 * (debounced, kept in the URL), and shows a live change of a visible run in place and a new
 * run on top of the newest (or as a notice in another order).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { openDatabase } from '../server/db/client';
import { createStorage } from '../server/hub/storage/storage';
import type { RunSummary } from '../server/protocol';
import type { RunImport } from '../server/hub/storage/runs';
import { hyperparamsSchema } from '../server/trainer/config';
import { ARTIFACTS, launchChromium, startHubProcess } from './helpers/browser';
import { eventually } from './helpers/hub';
import { seedRuns, sortLikeTheList } from './helpers/runsSeed';

const N = 10_000;
const SEEDED = seedRuns(N);
const shown = SEEDED.filter((r) => !r.archivedAt);
const n = (x: number) => x.toLocaleString('en-US');

/** The ids of the rows on the page, top to bottom. */
const rowIds = (page: Page) =>
  page
    .locator('[data-testid="run-row"]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
const range = (page: Page) => page.getByTestId('runs-range').innerText();

test('in Chromium: 10,000 runs paged, sorted by a header click, filtered by text, a visible run changing live', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  // 10,000 runs written in bulk before the hub starts on the same file.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-runs-page-'));
  const db = await openDatabase({ url: `file:${path.join(dir, 'hub.db')}` });
  try {
    assert.equal(await createStorage(db.prisma, db.provider).runs.insertMany(SEEDED), N);
  } finally {
    await db.close();
  }
  const hub = await startHubProcess(['--no-local-trainer'], { dir });
  t.after(async () => {
    await browser.close();
    await hub.stop();
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Pager'));
  await page.goto(`${hub.url}/`);
  await page.locator('.conn', { hasText: 'live' }).waitFor();

  // The newest 50 of the 9,800 not archived, then the next 50.
  const newest = sortLikeTheList(shown, 'created', 'desc').map((r) => r.id);
  await eventually(
    async () => (await range(page)) === `runs 1–50 of ${n(shown.length)}`,
    'the first page',
  );
  assert.deepEqual(await rowIds(page), newest.slice(0, 50));
  assert.equal(await page.getByRole('button', { name: 'Previous' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Next' }).click();
  await eventually(
    async () => (await range(page)) === `runs 51–100 of ${n(shown.length)}`,
    'the second page',
  );
  assert.deepEqual(await rowIds(page), newest.slice(50, 100));
  assert.match(page.url(), /[?&]page=2\b/);

  // A header click sorts the whole list (back to its first page); a second one turns it round.
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const byName = sortLikeTheList(shown, 'name', 'asc').map((r) => r.id);
  await eventually(
    async () => JSON.stringify(await rowIds(page)) === JSON.stringify(byName.slice(0, 50)),
    'sorted by name',
  );
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'ascending');
  assert.equal(await range(page), `runs 1–50 of ${n(shown.length)}`);
  await page.getByRole('button', { name: 'Test accuracy' }).click();
  await page.getByRole('button', { name: 'Test accuracy' }).click();
  const byAccuracy = sortLikeTheList(shown, 'accuracy', 'desc').map((r) => r.id);
  await eventually(
    async () => JSON.stringify(await rowIds(page)) === JSON.stringify(byAccuracy.slice(0, 50)),
    'sorted by test accuracy, best first',
  );
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending');

  // Text filters the whole list, once typing pauses; the view is in the URL, so a reload keeps it.
  await page.getByRole('searchbox').pressSequentially('LR SWEEP 12', { delay: 20 });
  const matching = sortLikeTheList(
    shown.filter((r) => r.name.includes('lr sweep 12')),
    'accuracy',
    'desc',
  );
  await eventually(
    async () => (await range(page)) === `runs 1–${matching.length} of ${matching.length}`,
    `the ${matching.length} runs matching`,
  );
  assert.deepEqual(
    await rowIds(page),
    matching.map((r) => r.id),
  );
  assert.equal(new URL(page.url()).searchParams.get('q'), 'LR SWEEP 12');
  await page.reload();
  await eventually(
    async () => (await page.locator('[data-testid="run-row"]').count()) === matching.length,
    'the same view after a reload',
  );
  assert.equal(await page.getByRole('searchbox').inputValue(), 'LR SWEEP 12');
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending');
  await page.getByLabel('Status').selectOption('failed');
  const failed = matching.filter((r) => r.status === 'failed');
  await eventually(
    async () => (await page.locator('[data-testid="run-row"]').count()) === failed.length,
    'and by status',
  );
  await page.getByLabel('Status').selectOption('');

  // A visible run renamed elsewhere changes in its row, where it is.
  await page.locator('.conn', { hasText: 'live' }).waitFor();
  const visible = matching[2]!.id;
  const res = await fetch(`${hub.url}/api/runs/${visible}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'lr sweep 12, renamed while shown', tags: ['live'] }),
  });
  assert.equal(res.status, 200, await res.text());
  const row = page.locator(`[data-run-id="${visible}"]`);
  await row.getByRole('link', { name: 'lr sweep 12, renamed while shown' }).waitFor();
  assert.equal((await rowIds(page)).indexOf(visible), 2, 'not moved');
  assert.equal(await row.locator('.muted.small').first().innerText(), 'live');

  // A new run: a notice in this order; on top of the newest-first first page.
  const created = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'lr sweep 12 again', hyperparams: { epochs: 1 } }),
  });
  assert.equal(created.status, 201);
  const newId = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  await page.getByTestId('new-runs').filter({ hasText: '1 new run — show' }).waitFor();
  await page.getByTestId('new-runs').click();
  await page.locator(`[data-run-id="${newId}"]`).waitFor();
  await page.goto(`${hub.url}/`);
  await eventually(async () => (await rowIds(page))[0] === newId, 'the newest first again');
  await page.locator('.conn', { hasText: 'live' }).waitFor();
  const another = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'the newest', hyperparams: { epochs: 1 } }),
  });
  const anotherId = ((await another.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(
    async () => (await rowIds(page))[0] === anotherId,
    'a new run on top of the newest',
  );
  assert.equal(
    await page.locator('[data-testid="run-row"]').count(),
    50,
    'the page keeps its size',
  );
  assert.equal(await range(page), `runs 1–50 of ${n(shown.length + 2)}`);

  // The sparklines' shared-scale toggle is still there.
  await page.locator('.column-picker').getByLabel('same loss scale').check();
  assert.deepEqual(errors, [], 'no page errors');
});

test("in Chromium: ticked runs archived, restored, tagged and deleted at once; archived rows marked; the table's room at 1,280 and 400 px", async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-runs-bulk-'));
  const db = await openDatabase({ url: `file:${path.join(dir, 'hub.db')}` });
  // The names the hub gives runs by default, and a learning rate changed many times.
  const history = Array.from({ length: 12 }, (_, i) => ({
    step: i * 100,
    value: Math.round(1000 / (i + 1)) / 10_000,
  }));
  const run = (id: string, name: string, status: RunSummary['status'], i: number): RunImport => ({
    id,
    name,
    status,
    hyperparams: hyperparamsSchema.parse({}),
    createdBy: 'Ada',
    createdAt: new Date(Date.UTC(2026, 11, 1, 10, i)),
    lastStep: 1875,
    totalSteps: 1875,
    lastLoss: 0.1,
    finalTestAccuracy: 97.5 + i / 10,
    learningRates: history,
    backend: 'wasm',
    trainerHost: 'trainer-host-1.example.com',
  });
  try {
    await createStorage(db.prisma, db.provider).runs.insertMany([
      run('bulk-a', 'sgd lr 0.01 · batch 32 · 1 epoch', 'completed', 1),
      run('bulk-b', 'adam lr 0.001 · batch 64 · 3 epochs', 'stopped', 2),
      run('bulk-c', 'sgd lr 0.05 · batch 128 · 2 epochs', 'completed', 3),
      run('bulk-q', 'waiting for a trainer', 'queued', 4),
    ]);
  } finally {
    await db.close();
  }
  const hub = await startHubProcess(['--no-local-trainer'], { dir });
  t.after(async () => {
    await browser.close();
    await hub.stop();
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/`);
  await page.locator('.conn', { hasText: 'live' }).waitFor();
  await eventually(
    async () => (await page.locator('[data-testid="run-row"]').count()) === 4,
    'four runs',
  );
  const row = (id: string) => page.locator(`[data-run-id="${id}"]`);

  // 1,280 px: names on at most two lines; the learning-rate history on one, cut, in full on hover.
  const lines = await page.locator('.runs-table td.col-name a').evaluateAll((links) =>
    links.map((a) => {
      const style = getComputedStyle(a);
      return Math.round(a.getBoundingClientRect().height / parseFloat(style.lineHeight));
    }),
  );
  assert.ok(
    lines.every((n) => n <= 2),
    `lines per run name: ${lines.join(', ')}`,
  );
  const lr = await row('bulk-a')
    .getByTestId('run-lr')
    .evaluate((td) => {
      const h = td.querySelector('.lr-history') as HTMLElement;
      return {
        title: td.getAttribute('title') ?? '',
        cut: h.scrollWidth > h.clientWidth,
        lines: Math.round(
          h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).lineHeight),
        ),
      };
    });
  assert.deepEqual([lr.cut, lr.lines], [true, 1], 'the history is one line, cut');
  assert.match(lr.title, /0\.1 → … → .* at step 1,100/, 'and in full on hover');
  assert.equal(
    await page.getByTestId('scroll-hint').count(),
    0,
    'every column fits beside the start form at 1,280 px',
  );
  // The search box shows its whole placeholder.
  const search = await page.getByRole('searchbox').evaluate((input) => {
    const el = input as HTMLInputElement;
    const style = getComputedStyle(el);
    const ctx = document.createElement('canvas').getContext('2d')!;
    ctx.font = style.font;
    return {
      text: ctx.measureText(el.placeholder).width,
      room: el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
    };
  });
  assert.ok(
    search.text <= search.room,
    `the placeholder needs ${search.text.toFixed(1)}px, the box has ${search.room.toFixed(1)}px`,
  );

  // Archive three ticked runs: the two finished ones are, the waiting one is not, and why.
  const tick = (name: string) =>
    page.getByRole('checkbox', { name: `Select ${name}`, exact: true }).check();
  await tick('sgd lr 0.01 · batch 32 · 1 epoch');
  await tick('adam lr 0.001 · batch 64 · 3 epochs');
  await tick('waiting for a trainer');
  await page.locator('.bulk-actions').getByRole('button', { name: 'Archive' }).click();
  await page
    .getByTestId('bulk-report')
    .filter({
      hasText:
        'Archived 2 of 3 runs. Not archived: “waiting for a trainer”: the run is queued: stop it before you archive it.',
    })
    .waitFor();
  await eventually(
    async () => (await page.locator('[data-testid="run-row"]').count()) === 2,
    'the archived runs left the list',
  );

  // Shown on request, archived rows are marked; the others are not.
  await page.getByLabel('show archived').check();
  await row('bulk-a').getByTestId('run-archived-mark').waitFor();
  assert.equal(await row('bulk-b').getByTestId('run-archived-mark').innerText(), 'archived');
  assert.equal(await row('bulk-c').getByTestId('run-archived-mark').count(), 0);
  assert.equal(await row('bulk-a').getAttribute('class'), 'archived');

  // The one not archived stays ticked (to try again); the archived ones do not.
  const waitingBox = page.getByRole('checkbox', {
    name: 'Select waiting for a trainer',
    exact: true,
  });
  assert.equal(await waitingBox.isChecked(), true);
  await waitingBox.uncheck();

  // Restore them, then tag them: a bad tag is named at its field and changes nothing.
  await tick('sgd lr 0.01 · batch 32 · 1 epoch');
  await tick('adam lr 0.001 · batch 64 · 3 epochs');
  const bulk = page.locator('.bulk-actions');
  await bulk.getByRole('button', { name: 'Restore' }).click();
  await page.getByTestId('bulk-report').filter({ hasText: 'Restored 2 runs.' }).waitFor();
  await eventually(
    async () => (await row('bulk-a').getByTestId('run-archived-mark').count()) === 0,
    'restored, unmarked',
  );
  await tick('sgd lr 0.01 · batch 32 · 1 epoch');
  await tick('adam lr 0.001 · batch 64 · 3 epochs');
  await bulk.getByRole('button', { name: 'Tags…' }).click();
  await page.getByLabel('Add tags (comma-separated)').fill('Live Demo, #!');
  await bulk.getByRole('button', { name: 'Apply to 2 runs' }).click();
  assert.match(await page.locator('#err-bulk-add').innerText(), /^"#!" is not a tag/);
  assert.equal(
    await page.locator('.bulk-actions .form-error').count(),
    0,
    'no internal message beside the field error',
  );
  await page.getByLabel('Add tags (comma-separated)').fill('Live Demo');
  await bulk.getByRole('button', { name: 'Apply to 2 runs' }).click();
  await page.getByTestId('bulk-report').filter({ hasText: 'Retagged 2 runs.' }).waitFor();
  await row('bulk-b').locator('.col-name .muted.small', { hasText: 'Live Demo' }).waitFor();

  // Delete: only with the number of runs typed.
  await bulk.getByRole('button', { name: 'Delete…' }).click();
  await page.getByLabel('Number of runs to delete').fill('3');
  assert.equal(
    await bulk.getByRole('button', { name: 'Delete 2 runs for good' }).isDisabled(),
    true,
  );
  await page.getByLabel('Number of runs to delete').fill('2');
  await bulk.getByRole('button', { name: 'Delete 2 runs for good' }).click();
  await page.getByTestId('bulk-report').filter({ hasText: 'Deleted 2 runs.' }).waitFor();
  await eventually(
    async () => (await page.locator('[data-testid="run-row"]').count()) === 2,
    'the deleted runs left the list',
  );
  assert.deepEqual(
    await Promise.all(
      ['bulk-a', 'bulk-b', 'bulk-c'].map(
        async (id) => (await fetch(`${hub.url}/api/runs/${id}`)).status,
      ),
    ),
    [404, 404, 200],
  );

  // 400 px: the name, status, loss and accuracy in view; the other columns on request, scrolling, said so.
  const narrow = await browser.newPage({ viewport: { width: 400, height: 900 } });
  narrow.on('pageerror', (e) => errors.push(e.message));
  await narrow.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await narrow.goto(`${hub.url}/`);
  await narrow.locator('[data-run-id="bulk-c"]').waitFor();
  for (const name of ['Run', 'Status', 'Loss', 'Test accuracy']) {
    const box = await narrow
      .locator('table.runs-table thead th', {
        has: narrow.getByRole('button', { name, exact: true }),
      })
      .boundingBox();
    assert.ok(
      box && box.width > 0 && box.x >= 0 && box.x + box.width <= 400,
      `${name} is in view at 400 px: ${JSON.stringify(box)}`,
    );
  }
  assert.equal(
    await narrow.getByRole('button', { name: 'Created', exact: true }).isVisible(),
    false,
  );
  await narrow.getByTestId('all-columns').click();
  await narrow.getByRole('button', { name: 'Created', exact: true }).waitFor();
  await narrow.getByTestId('scroll-hint').waitFor();
  await narrow.screenshot({ path: path.join(ARTIFACTS, 'runs-400-all-columns.png') });
  assert.deepEqual(errors, [], 'no page errors');
});
