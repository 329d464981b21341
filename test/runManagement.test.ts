/**
 * Run management through a real hub: rename, describe and tag a run (everyone sees it),
 * archive and restore it (hidden from the list by default, nothing lost), delete it for good
 * only with its name typed again (every row of it gone, everyone told), and bad input refused
 * with the field named and nothing changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunSummary } from '../server/protocol';
import type { TrainerEvent } from '../server/trainer/events';
import { dbState } from './helpers/dbState';
import { chromiumAndHub } from './helpers/browser';
import { connectBrowser, eventually, runOnFakeTrainer } from './helpers/hub';

test('rename, describe, tag, archive, restore and delete a finished run; everyone sees each change', async (t) => {
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'manager');
  const bob = await connectBrowser(hub.url, 'Bob');
  t.after(() => bob.close());
  const events: TrainerEvent[] = [
    { runId, seq: 1, type: 'status', status: 'running', step: 0, time: Date.now() },
    ...Array.from({ length: 5 }, (_, i): TrainerEvent => ({ runId, seq: i + 2, type: 'metrics:batch', point: { step: i + 1, epoch: 1, batch: i, loss: 1, accuracy: 50, learningRate: 0.01, samplesPerSec: 100, time: Date.now() } })),
    { runId, seq: 7, type: 'checkpoint', epoch: 1, step: 5, path: '/tmp/x.ckpt', reason: 'epoch' },
  ];
  assert.ok((await trainer.timeout(10_000).emitWithAck('trainer:events', { runId, events })).ok);

  // While it trains it can be renamed, not archived or deleted.
  const renamed = await ada.call('run:edit', { runId, name: '  baseline  ', description: 'The **tutorial** settings.\n\n<script>alert(1)</script>', tags: ['Baseline', 'mnist', 'baseline'] });
  assert.ok(renamed.ok, JSON.stringify(renamed));
  assert.deepEqual([renamed.data.run.name, renamed.data.run.tags], ['baseline', ['baseline', 'mnist']], 'trimmed, tags lower-cased and once each');
  assert.equal(renamed.data.run.description, 'The **tutorial** settings.\n\n<script>alert(1)</script>', 'kept as written (the page renders it text-safe)');
  const seen = await bob.waitFor('runs:changed', (m) => m.run.id === runId && m.run.name === 'baseline');
  assert.deepEqual(seen.run.tags, ['baseline', 'mnist']);
  const early = await ada.call('run:archive', { runId });
  assert.equal(early.ok ? 'ok' : early.error, 'CONFLICT');

  // Bad input: the field named, in words, and nothing changed.
  const before = await dbState(hub);
  for (const [payload, field] of [
    [{ runId, tags: ['#!'] }, 'tags.0'],
    [{ runId, name: '   ' }, 'name'],
    [{ runId, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags'],
    [{ runId }, '(input)'],
  ] as const) {
    const r = await ada.call('run:edit', payload);
    assert.ok(!r.ok && r.error === 'INVALID', JSON.stringify(r));
    const details = (r.details ?? {}) as Record<string, string>;
    assert.ok(Object.keys(details).some((k) => k === field || (field === '(input)' && /nothing to change/.test(r.message + JSON.stringify(details)))), `${field}: ${JSON.stringify(r)}`);
  }
  assert.deepEqual(await dbState(hub), before, 'refused edits change nothing');

  // Finished, it is archived: gone from the list by default, there on request, data kept.
  assert.ok((await bob.call('run:watch', { runId })).ok);
  assert.ok((await trainer.timeout(10_000).emitWithAck('trainer:events', { runId, events: [{ runId, seq: 8, type: 'status', status: 'completed', step: 5, time: Date.now() }] })).ok);
  await bob.waitFor('runs:changed', (m) => m.run.id === runId && m.run.status === 'completed');
  // How it ended is in its history, beside people's commands.
  const end = await bob.waitFor('annotation:added', (m) => m.annotation.runId === runId && m.annotation.authorName === 'trainer');
  assert.deepEqual([end.annotation.text, end.annotation.step], ['the run completed at step 5', 5]);
  const archived = await ada.call('run:archive', { runId });
  assert.ok(archived.ok && archived.data.run.archivedAt, JSON.stringify(archived));
  await bob.waitFor('runs:changed', (m) => m.run.id === runId && m.run.archivedAt !== null);
  const list = async (q = '') => ((await (await fetch(`${hub.url}/api/runs${q}`)).json()) as { data: { runs: RunSummary[] } }).data.runs.map((r) => r.id);
  assert.ok(!(await list()).includes(runId), 'hidden by default');
  assert.ok((await list('?archived=only')).includes(runId));
  assert.ok((await list('?archived=include')).includes(runId));
  assert.equal(await hub.db.prisma.batchMetric.count({ where: { runId } }), 5, 'its data kept');
  const restored = await fetch(`${hub.url}/api/runs/${runId}/restore`, { method: 'POST' });
  assert.equal(restored.status, 200);
  assert.ok((await list()).includes(runId), 'back in the list');

  // Deleting needs the name typed again; a wrong one deletes nothing.
  const wrong = await ada.call('run:delete', { runId, confirmName: 'Baseline' });
  assert.ok(!wrong.ok && wrong.error === 'INVALID');
  assert.match(String((wrong.details as Record<string, string>).confirmName), /type the run's name, “baseline”/);
  assert.equal(await hub.db.prisma.run.count({ where: { id: runId } }), 1);
  const deleted = await fetch(`${hub.url}/api/runs/${runId}`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ confirmName: 'baseline' }) });
  assert.equal(deleted.status, 200, await deleted.clone().text());
  await bob.waitFor('runs:deleted', (m) => m.runId === runId && m.by === 'api');
  const db = hub.db.prisma;
  assert.deepEqual(
    await Promise.all([db.run.count({ where: { id: runId } }), db.batchMetric.count({ where: { runId } }), db.checkpoint.count({ where: { runId } }), db.annotation.count({ where: { runId } })]),
    [0, 0, 0, 0],
    'the run, its points, checkpoints and notes are gone',
  );
  const gone = await ada.call('run:watch', { runId });
  assert.equal(gone.ok ? 'ok' : gone.error, 'NOT_FOUND');
});

test('in Chromium: edit a run (markdown shown text-safe), start a copy, filter the list, archive, restore and delete it', async (t) => {
  const both = await chromiumAndHub(t);
  if (!both) return;
  const { browser, hub } = both;
  const created = await fetch(`${hub.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'lr sweep 1', hyperparams: { epochs: 1, learningRate: 0.05, optimizer: 'adam', beta1: 0.8 } }) });
  const runId = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  // No trainer here: the run waits, and stopping it ends it at once.
  assert.equal((await fetch(`${hub.url}/api/runs/${runId}/stop`, { method: 'POST' })).status, 200);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/runs/${runId}`);
  await page.getByRole('button', { name: 'Edit name, description, tags' }).click();
  await page.getByLabel('Name', { exact: true }).fill('baseline');
  await page.getByLabel('Description (markdown)').fill('The **tutorial** settings.\n\n<img src="x" onerror="window.__pwned = 1"> <script>window.__pwned = 2</script>');
  await page.getByLabel('Tags (comma-separated)').fill('Baseline, mnist');
  await page.getByRole('button', { name: 'Save' }).click();
  await eventually(async () => (await page.getByTestId('run-name').innerText()) === 'baseline', 'renamed');
  const description = page.getByTestId('run-description');
  assert.equal(await description.locator('strong').innerText(), 'tutorial', 'markdown rendered');
  assert.equal(await description.locator('img, script').count(), 0, 'raw HTML is not passed through');
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.deepEqual(await page.locator('.tags .tag').allInnerTexts(), ['baseline', 'mnist']);
  assert.equal(await page.title(), 'baseline · Livetrain');
  await page.getByTestId('annotation').filter({ hasText: 'Ada renamed the run from “lr sweep 1” to “baseline”' }).waitFor();

  // A copy: the form filled with its settings.
  await page.getByRole('link', { name: 'Start a copy' }).click();
  await page.waitForURL(/\/\?copy=/);
  await page.getByTestId('form-notice').waitFor();
  assert.equal(await page.getByLabel('Name (optional)').inputValue(), 'baseline (copy)');
  assert.equal(await page.getByLabel('Learning rate').inputValue(), '0.05');
  assert.equal(await page.locator('#hp-optimizer').inputValue(), 'adam');

  // The list filters by text and tag.
  const row = page.locator(`[data-run-id="${runId}"]`);
  await row.waitFor();
  await page.getByRole('searchbox').fill('no such run anywhere');
  await page.getByTestId('no-match').waitFor();
  await page.getByRole('searchbox').fill('');
  await page.getByLabel('Tag').selectOption('mnist');
  await row.waitFor();
  await page.getByLabel('Tag').selectOption('');
  // The date has its time; hyperparameters can be shown as columns; a header sorts.
  assert.match(await row.getByTestId('run-created').innerText(), /^\d{1,2} \w{3} \d{4}, \d{2}:\d{2}$/);
  await page.locator('.column-picker').getByLabel('Optimizer').check();
  assert.equal(await row.getByTestId('run-optimizer').innerText(), 'adam');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'ascending');

  // Archived: gone from the list unless asked for; restored: back.
  await page.goto(`${hub.url}/runs/${runId}`);
  await page.getByRole('button', { name: 'Archive' }).click();
  await page.getByTestId('run-archived').waitFor();
  await page.goto(`${hub.url}/`);
  await page.getByRole('heading', { name: 'Runs', exact: true }).waitFor();
  await page.getByText('No run matches').or(page.getByText('No runs yet')).first().waitFor();
  assert.equal(await row.count(), 0, 'an archived run is hidden');
  await page.getByLabel('show archived').check();
  await row.waitFor();
  await page.goto(`${hub.url}/runs/${runId}`);
  await page.getByRole('button', { name: 'Restore' }).click();
  await eventually(async () => (await page.getByTestId('run-archived').count()) === 0, 'restored');

  // Deleting needs the name typed exactly.
  await page.getByRole('button', { name: 'Delete…' }).click();
  await page.getByLabel('Run name').fill('Baseline');
  assert.equal(await page.getByRole('button', { name: 'Delete for good' }).isDisabled(), true);
  await page.getByLabel('Run name').fill('baseline');
  await page.getByRole('button', { name: 'Delete for good' }).click();
  await page.getByTestId('run-deleted').waitFor();
  assert.equal((await fetch(`${hub.url}/api/runs/${runId}`)).status, 404);
  await page.goto(`${hub.url}/`);
  await page.getByRole('heading', { name: 'Runs', exact: true }).waitFor();
  assert.equal(await row.count(), 0);
  assert.deepEqual(errors, [], 'no page errors');
});
