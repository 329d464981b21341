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
import { launchChromium, startHubProcess } from './helpers/browser';
import { eventually } from './helpers/hub';
import { seedRuns, sortLikeTheList } from './helpers/runsSeed';

const N = 10_000;
const SEEDED = seedRuns(N);
const shown = SEEDED.filter((r) => !r.archivedAt);
const n = (x: number) => x.toLocaleString('en-US');

/** The ids of the rows on the page, top to bottom. */
const rowIds = (page: Page) => page.locator('[data-testid="run-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
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
  await eventually(async () => (await range(page)) === `runs 1–50 of ${n(shown.length)}`, 'the first page');
  assert.deepEqual(await rowIds(page), newest.slice(0, 50));
  assert.equal(await page.getByRole('button', { name: 'Previous' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Next' }).click();
  await eventually(async () => (await range(page)) === `runs 51–100 of ${n(shown.length)}`, 'the second page');
  assert.deepEqual(await rowIds(page), newest.slice(50, 100));
  assert.match(page.url(), /[?&]page=2\b/);

  // A header click sorts the whole list (back to its first page); a second one turns it round.
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const byName = sortLikeTheList(shown, 'name', 'asc').map((r) => r.id);
  await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(byName.slice(0, 50)), 'sorted by name');
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'ascending');
  assert.equal(await range(page), `runs 1–50 of ${n(shown.length)}`);
  await page.getByRole('button', { name: 'Test accuracy' }).click();
  await page.getByRole('button', { name: 'Test accuracy' }).click();
  const byAccuracy = sortLikeTheList(shown, 'accuracy', 'desc').map((r) => r.id);
  await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(byAccuracy.slice(0, 50)), 'sorted by test accuracy, best first');
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending');

  // Text filters the whole list, once typing pauses; the view is in the URL, so a reload keeps it.
  await page.getByRole('searchbox').pressSequentially('LR SWEEP 12', { delay: 20 });
  const matching = sortLikeTheList(shown.filter((r) => r.name.includes('lr sweep 12')), 'accuracy', 'desc');
  await eventually(async () => (await range(page)) === `runs 1–${matching.length} of ${matching.length}`, `the ${matching.length} runs matching`);
  assert.deepEqual(await rowIds(page), matching.map((r) => r.id));
  assert.equal(new URL(page.url()).searchParams.get('q'), 'LR SWEEP 12');
  await page.reload();
  await eventually(async () => (await page.locator('[data-testid="run-row"]').count()) === matching.length, 'the same view after a reload');
  assert.equal(await page.getByRole('searchbox').inputValue(), 'LR SWEEP 12');
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending');
  await page.getByLabel('Status').selectOption('failed');
  const failed = matching.filter((r) => r.status === 'failed');
  await eventually(async () => (await page.locator('[data-testid="run-row"]').count()) === failed.length, 'and by status');
  await page.getByLabel('Status').selectOption('');

  // A visible run renamed elsewhere changes in its row, where it is.
  await page.locator('.conn', { hasText: 'live' }).waitFor();
  const visible = matching[2]!.id;
  const res = await fetch(`${hub.url}/api/runs/${visible}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'lr sweep 12, renamed while shown', tags: ['live'] }) });
  assert.equal(res.status, 200, await res.text());
  const row = page.locator(`[data-run-id="${visible}"]`);
  await row.getByRole('link', { name: 'lr sweep 12, renamed while shown' }).waitFor();
  assert.equal((await rowIds(page)).indexOf(visible), 2, 'not moved');
  assert.equal(await row.locator('.muted.small').first().innerText(), 'live');

  // A new run: a notice in this order; on top of the newest-first first page.
  const created = await fetch(`${hub.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'lr sweep 12 again', hyperparams: { epochs: 1 } }) });
  assert.equal(created.status, 201);
  const newId = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  await page.getByTestId('new-runs').filter({ hasText: '1 new run — show' }).waitFor();
  await page.getByTestId('new-runs').click();
  await page.locator(`[data-run-id="${newId}"]`).waitFor();
  await page.goto(`${hub.url}/`);
  await eventually(async () => (await rowIds(page))[0] === newId, 'the newest first again');
  await page.locator('.conn', { hasText: 'live' }).waitFor();
  const another = await fetch(`${hub.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'the newest', hyperparams: { epochs: 1 } }) });
  const anotherId = ((await another.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(async () => (await rowIds(page))[0] === anotherId, 'a new run on top of the newest');
  assert.equal(await page.locator('[data-testid="run-row"]').count(), 50, 'the page keeps its size');
  assert.equal(await range(page), `runs 1–50 of ${n(shown.length + 2)}`);

  // The sparklines' shared-scale toggle is still there.
  await page.locator('.column-picker').getByLabel('same loss scale').check();
  assert.deepEqual(errors, [], 'no page errors');
});
