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
import { connectBrowser, eventually, runOnFakeTrainer, startHub } from './helpers/hub';

test('rename, describe, tag, archive, restore and delete a finished run; everyone sees each change', async (t) => {
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'manager');
  const bob = await connectBrowser(hub.url, 'Bob');
  t.after(() => bob.close());
  const events: TrainerEvent[] = [
    { runId, seq: 1, type: 'status', status: 'running', step: 0, time: Date.now() },
    ...Array.from({ length: 5 }, (_, i): TrainerEvent => ({
      runId,
      seq: i + 2,
      type: 'metrics:batch',
      point: {
        step: i + 1,
        epoch: 1,
        batch: i,
        loss: 1,
        accuracy: 50,
        learningRate: 0.01,
        samplesPerSec: 100,
        time: Date.now(),
      },
    })),
    { runId, seq: 7, type: 'checkpoint', epoch: 1, step: 5, path: '/tmp/x.ckpt', reason: 'epoch' },
  ];
  assert.ok((await trainer.timeout(10_000).emitWithAck('trainer:events', { runId, events })).ok);

  // While it trains it can be renamed, not archived or deleted.
  const renamed = await ada.call('run:edit', {
    runId,
    name: '  baseline  ',
    description: 'The **tutorial** settings.\n\n<script>alert(1)</script>',
    tags: ['Baseline', 'mnist', 'baseline'],
  });
  assert.ok(renamed.ok, JSON.stringify(renamed));
  assert.deepEqual(
    [renamed.data.run.name, renamed.data.run.tags],
    ['baseline', ['Baseline', 'mnist']],
    'trimmed, tags as written and once each without regard to case',
  );
  assert.equal(
    renamed.data.run.description,
    'The **tutorial** settings.\n\n<script>alert(1)</script>',
    'kept as written (the page renders it text-safe)',
  );
  const seen = await bob.waitFor(
    'runs:changed',
    (m) => m.run.id === runId && m.run.name === 'baseline',
  );
  assert.deepEqual(seen.run.tags, ['Baseline', 'mnist']);
  // The list's filter and its menu of tags compare without regard to case.
  const tagged = async (tag: string) =>
    (
      (await (await fetch(`${hub.url}/api/runs?tag=${encodeURIComponent(tag)}`)).json()) as {
        data: { runs: RunSummary[]; tags: string[] };
      }
    ).data;
  assert.deepEqual(
    (await tagged('baseline')).runs.map((r) => r.id),
    [runId],
  );
  assert.deepEqual(
    (await tagged('BASELINE')).runs.map((r) => r.id),
    [runId],
  );
  assert.deepEqual((await tagged('baseline')).tags, ['baseline', 'mnist']);
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
    assert.ok(
      Object.keys(details).some(
        (k) =>
          k === field ||
          (field === '(input)' && /nothing to change/.test(r.message + JSON.stringify(details))),
      ),
      `${field}: ${JSON.stringify(r)}`,
    );
  }
  // Which tag is wrong, said in its message.
  const badTag = await ada.call('run:edit', { runId, tags: ['fine', 'not/ok'] });
  assert.ok(!badTag.ok);
  assert.match(
    String((badTag.details as Record<string, string>)['tags.1']),
    /^"not\/ok" is not a tag: a tag is 1–32 letters/,
  );
  assert.deepEqual(await dbState(hub), before, 'refused edits change nothing');

  // Finished, it is archived: gone from the list by default, there on request, data kept.
  assert.ok((await bob.call('run:watch', { runId })).ok);
  assert.ok(
    (
      await trainer.timeout(10_000).emitWithAck('trainer:events', {
        runId,
        events: [{ runId, seq: 8, type: 'status', status: 'completed', step: 5, time: Date.now() }],
      })
    ).ok,
  );
  await bob.waitFor('runs:changed', (m) => m.run.id === runId && m.run.status === 'completed');
  // How it ended is in its history, beside people's commands.
  const end = await bob.waitFor(
    'annotation:added',
    (m) => m.annotation.runId === runId && m.annotation.authorName === 'trainer',
  );
  assert.deepEqual([end.annotation.text, end.annotation.step], ['the run completed at step 5', 5]);
  const archived = await ada.call('run:archive', { runId });
  assert.ok(archived.ok && archived.data.run.archivedAt, JSON.stringify(archived));
  await bob.waitFor('runs:changed', (m) => m.run.id === runId && m.run.archivedAt !== null);
  const list = async (q = '') =>
    (
      (await (await fetch(`${hub.url}/api/runs${q}`)).json()) as { data: { runs: RunSummary[] } }
    ).data.runs.map((r) => r.id);
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
  assert.match(
    String((wrong.details as Record<string, string>).confirmName),
    /type the run's name, “baseline”/,
  );
  assert.equal(await hub.db.prisma.run.count({ where: { id: runId } }), 1);
  const deleted = await fetch(`${hub.url}/api/runs/${runId}`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ confirmName: 'baseline' }),
  });
  assert.equal(deleted.status, 200, await deleted.clone().text());
  await bob.waitFor('runs:deleted', (m) => m.runId === runId && m.by === 'api');
  const db = hub.db.prisma;
  assert.deepEqual(
    await Promise.all([
      db.run.count({ where: { id: runId } }),
      db.batchMetric.count({ where: { runId } }),
      db.checkpoint.count({ where: { runId } }),
      db.annotation.count({ where: { runId } }),
    ]),
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
  const created = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'lr sweep 1',
      hyperparams: { epochs: 1, learningRate: 0.05, optimizer: 'adam', beta1: 0.8 },
    }),
  });
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
  await page
    .getByLabel('Description (markdown)')
    .fill(
      'The **tutorial** settings.\n\n<img src="x" onerror="window.__pwned = 1"> <script>window.__pwned = 2</script>',
    );
  // A bad tag: named at the field, and no internal message beside it.
  await page.getByLabel('Tags (comma-separated)').fill('Baseline, mnist, no/slash');
  await page.getByRole('button', { name: 'Save' }).click();
  assert.match(
    await page.locator('#err-run-tags').innerText(),
    /^"no\/slash" is not a tag: a tag is 1–32 letters/,
  );
  assert.equal(
    await page.locator('.run-manage .form-error').count(),
    0,
    'only the field error, in words',
  );
  assert.equal(await page.getByText('invalid run:edit payload').count(), 0);
  await page.getByLabel('Tags (comma-separated)').fill('Baseline, mnist');
  await page.getByRole('button', { name: 'Save' }).click();
  await eventually(
    async () => (await page.getByTestId('run-name').innerText()) === 'baseline',
    'renamed',
  );
  const description = page.getByTestId('run-description');
  assert.equal(await description.locator('strong').innerText(), 'tutorial', 'markdown rendered');
  assert.equal(
    await description.locator('img, script').count(),
    0,
    'raw HTML is not passed through',
  );
  assert.equal(
    await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned),
    undefined,
  );
  assert.deepEqual(
    await page.locator('.tags .tag').allInnerTexts(),
    ['Baseline', 'mnist'],
    'tags as written',
  );
  assert.equal(await page.title(), 'baseline · Livetrain');
  await page
    .getByTestId('annotation')
    .filter({ hasText: 'Ada renamed the run from “lr sweep 1” to “baseline”' })
    .waitFor();

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
  assert.match(
    await row.getByTestId('run-created').innerText(),
    /^\d{1,2} \w{3} \d{4}, \d{2}:\d{2}$/,
  );
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

test("ticked runs at once (runs:manage): archive, restore, tag and delete, each run's result in words, bad requests changing nothing", async (t) => {
  const hub = await startHub();
  t.after(() => hub.close());
  const ada = await connectBrowser(hub.url, 'Ada');
  const bob = await connectBrowser(hub.url, 'Bob');
  t.after(() => {
    ada.close();
    bob.close();
  });
  const json = { 'content-type': 'application/json' };
  const start = async (name: string) => {
    const r = await ada.call('run:start', { name, hyperparams: { epochs: 1 } });
    assert.ok(r.ok, JSON.stringify(r));
    return r.data.run.id;
  };
  // No trainer: runs wait, and a stop ends one at once.
  const [a, b, c, waiting] = [
    await start('a'),
    await start('b'),
    await start('c'),
    await start('waiting'),
  ];
  for (const id of [a, b, c]) assert.ok((await ada.call('run:stop', { runId: id })).ok);
  assert.ok((await ada.call('run:edit', { runId: c, tags: ['old', 'keep'] })).ok);
  type Outcome = { runId: string; ok: boolean; error?: string; message?: string };
  const brief = (results: readonly Outcome[]) =>
    results.map((r) => (r.ok ? `${r.runId} ok` : `${r.runId} ${r.error}: ${r.message}`));

  // Archive: the finished ones are, the waiting one and an unknown id are reported and why.
  const archived = await ada.call('runs:manage', {
    runIds: [a, b, waiting, 'nope'],
    action: { kind: 'archive' },
  });
  assert.ok(archived.ok, JSON.stringify(archived));
  assert.deepEqual(brief(archived.data.results), [
    `${a} ok`,
    `${b} ok`,
    `${waiting} CONFLICT: the run is queued: stop it before you archive it`,
    'nope NOT_FOUND: no run nope',
  ]);
  await bob.waitFor('runs:changed', (m) => m.run.id === b && m.run.archivedAt !== null);
  assert.equal(await hub.db.prisma.run.count({ where: { archivedAt: { not: null } } }), 2);

  // Restore over HTTP: one archived, one not.
  const restoredRes = await fetch(`${hub.url}/api/runs/manage`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ runIds: [a, c], action: { kind: 'restore' } }),
  });
  assert.equal(restoredRes.status, 200);
  const restored = (await restoredRes.json()) as { data: { results: Outcome[] } };
  assert.deepEqual(brief(restored.data.results), [
    `${a} ok`,
    `${c} CONFLICT: the run is not archived`,
  ]);

  // Tags: added as written, removed without regard to case, the others kept.
  const retagged = await ada.call('runs:manage', {
    runIds: [a, c],
    action: { kind: 'tag', add: ['Live Demo'], remove: ['OLD'] },
  });
  assert.ok(retagged.ok, JSON.stringify(retagged));
  const tagsOf = async (id: string) =>
    ((await hub.db.prisma.run.findUniqueOrThrow({ where: { id } })).tags as string[]) ?? [];
  assert.deepEqual([await tagsOf(a), await tagsOf(c)], [['Live Demo'], ['keep', 'Live Demo']]);
  await bob.waitFor('runs:changed', (m) => m.run.id === c && m.run.tags.includes('Live Demo'));

  // Bad requests: the field named in words (the tag quoted), nothing changed.
  const before = await dbState(hub);
  for (const [payload, field, words] of [
    [
      { runIds: [a, b], action: { kind: 'tag', add: ['fine', '#!'] } },
      'action.add.1',
      /^"#!" is not a tag/,
    ],
    [
      { runIds: [a, b], action: { kind: 'delete', confirmCount: 1 } },
      'action.confirmCount',
      /type the number of runs ticked, 2/,
    ],
    [{ runIds: [], action: { kind: 'archive' } }, 'runIds', /tick at least one run/],
    [{ runIds: [a, a], action: { kind: 'archive' } }, 'runIds', /each run once/],
    [{ runIds: [a], action: { kind: 'shred' } }, 'action.kind', /./],
  ] as const) {
    const r = await ada.call('runs:manage', payload);
    assert.ok(!r.ok && r.error === 'INVALID', JSON.stringify(r));
    assert.match(
      String((r.details as Record<string, string>)[field]),
      words,
      JSON.stringify(r.details),
    );
  }
  const overHttp = await fetch(`${hub.url}/api/runs/manage`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ runIds: [a], action: { kind: 'delete' } }),
  });
  assert.equal(overHttp.status, 400);
  assert.deepEqual(await dbState(hub), before, 'refused requests change nothing');

  // Delete with the count typed: the finished run goes for good, the waiting one is kept and said why.
  const deleted = await ada.call('runs:manage', {
    runIds: [a, waiting],
    action: { kind: 'delete', confirmCount: 2 },
  });
  assert.ok(deleted.ok, JSON.stringify(deleted));
  assert.deepEqual(brief(deleted.data.results), [
    `${a} ok`,
    `${waiting} CONFLICT: the run is queued: stop it before you delete it`,
  ]);
  await bob.waitFor('runs:deleted', (m) => m.runId === a && m.by === 'Ada');
  assert.deepEqual(
    await Promise.all([a, waiting].map((id) => hub.db.prisma.run.count({ where: { id } }))),
    [0, 1],
  );
  assert.equal(
    await hub.db.prisma.annotation.count({ where: { runId: a } }),
    0,
    'its notes went with it',
  );
});
