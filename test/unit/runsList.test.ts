/**
 * The runs page's view of the list (app/lib/runsList.ts): pure, no React. The sorting itself
 * is the hub's now, tested at 10,000 runs in test/runsPaging.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiQuery,
  DEFAULT_VIEW,
  matches,
  PAGE_SIZE,
  rangeText,
  runChanged,
  runDeleted,
  searchFromView,
  sortBy,
  viewFromSearch,
  type HeldPage,
  type ListView,
} from '../../app/lib/runsList';
import type { RunSummary } from '../../server/protocol';
import { hyperparamsSchema } from '../../server/trainer/config';

const run = (id: string, over: Partial<RunSummary> = {}): RunSummary =>
  ({
    id,
    name: id,
    description: '',
    tags: [],
    archivedAt: null,
    status: 'completed',
    statusMessage: null,
    hyperparams: hyperparamsSchema.parse({}),
    backend: null,
    device: null,
    trainerHost: null,
    origin: 'hub',
    originHost: null,
    createdBy: 'Ada',
    createdAt: '2026-12-01T10:00:00.000Z',
    startedAt: null,
    endedAt: null,
    trainSize: null,
    testSize: null,
    batchesPerEpoch: null,
    totalSteps: null,
    lastStep: 0,
    lastSeq: 0,
    finalTrainLoss: null,
    finalTrainAccuracy: null,
    finalTestLoss: null,
    finalTestAccuracy: null,
    samplesPerSec: null,
    learningRates: [],
    ...over,
  }) satisfies RunSummary;

test('the view in the page URL: defaults left out, other parameters kept, read back the same', () => {
  assert.equal(searchFromView(DEFAULT_VIEW), '');
  assert.deepEqual(viewFromSearch(''), DEFAULT_VIEW);
  const view: ListView = {
    text: ' adam 50% ',
    status: 'failed',
    tag: 'lr sweep',
    sort: 'epochs',
    order: 'desc',
    archived: true,
    page: 3,
  };
  const search = searchFromView(view, '?copy=run-1');
  assert.equal(
    new URLSearchParams(search).get('copy'),
    'run-1',
    "another parameter (the start form's copy) is kept",
  );
  assert.deepEqual(viewFromSearch(search), { ...view, text: 'adam 50%' });
  // A sort in its default order leaves the order out; a header click turns it round, back to page 1.
  assert.equal(searchFromView({ ...DEFAULT_VIEW, sort: 'name', order: 'asc' }), '?sort=name');
  assert.deepEqual(sortBy({ ...view, sort: 'name', order: 'asc' }, 'name'), {
    ...view,
    sort: 'name',
    order: 'desc',
    page: 1,
  });
  assert.deepEqual(
    sortBy(view, 'created'),
    { ...view, sort: 'created', order: 'desc', page: 1 },
    'another column: its default order (newest first)',
  );
  assert.deepEqual(sortBy(view, 'loss'), { ...view, sort: 'loss', order: 'asc', page: 1 });
  // A sort the hub does not know is sent as it is, for the hub to say what is wrong.
  assert.equal(new URLSearchParams(apiQuery(viewFromSearch('?sort=nmae'))).get('sort'), 'nmae');
  assert.equal(viewFromSearch('?page=-2').page, 1);
});

test('the API query of a view: page 3 of 50 is offset 100; empty filters left out', () => {
  const q = new URLSearchParams(
    apiQuery({ ...DEFAULT_VIEW, text: '  sweep ', tag: 'mnist', page: 3 }),
  );
  assert.deepEqual(Object.fromEntries(q), {
    sort: 'created',
    order: 'desc',
    tag: 'mnist',
    q: 'sweep',
    archived: 'exclude',
    limit: String(PAGE_SIZE),
    offset: String(2 * PAGE_SIZE),
  });
  assert.equal(
    new URLSearchParams(apiQuery({ ...DEFAULT_VIEW, archived: true })).get('archived'),
    'include',
  );
  assert.equal(rangeText(50, 50, 10_000), 'runs 51–100 of 10,000');
  assert.equal(rangeText(9_950, 50, 10_000), 'runs 9,951–10,000 of 10,000');
  assert.equal(rangeText(0, 0, 0), 'no runs');
  assert.equal(rangeText(500, 0, 20), 'no runs here (20 in all)');
});

test('live: a changed run on the page changes in place or leaves it; a new one goes on top of the newest first, or into the notice', () => {
  const asOf = '2026-12-01T12:00:00.000Z';
  const page = (runs: RunSummary[], total = 100): HeldPage => ({
    runs,
    offset: 0,
    total,
    asOf,
    newRuns: [],
  });
  const [a, b, c] = ['a', 'b', 'c'].map((id) => run(id));
  const held = page([a, b, c]);
  const renamed = { ...b, name: 'renamed' };
  assert.deepEqual(
    runChanged(held, renamed, DEFAULT_VIEW).runs,
    [a, renamed, c],
    'in place: not moved while people look at it',
  );
  const failedOnly = { ...DEFAULT_VIEW, status: 'completed' };
  assert.deepEqual(
    runChanged(held, { ...b, status: 'failed' }, failedOnly),
    { ...held, runs: [a, c], total: 99 },
    'no longer matching: it leaves the page',
  );
  assert.deepEqual(
    runChanged(held, { ...b, archivedAt: asOf }, DEFAULT_VIEW).runs,
    [a, c],
    'archived while they are hidden',
  );
  assert.equal(
    runChanged(held, { ...b, archivedAt: asOf }, { ...DEFAULT_VIEW, archived: true }).runs.length,
    3,
  );

  const fresh = run('new', { createdAt: '2026-12-01T12:00:01.000Z' });
  assert.deepEqual(
    runChanged(held, fresh, DEFAULT_VIEW, 3),
    { ...held, runs: [fresh, a, b], total: 101 },
    'newest first, page 1: on top, the page stays its size',
  );
  const elsewhere = runChanged(held, fresh, { ...DEFAULT_VIEW, sort: 'name', order: 'asc' });
  assert.deepEqual(
    [elsewhere.runs, elsewhere.newRuns],
    [held.runs, ['new']],
    'another order: counted for the notice',
  );
  assert.deepEqual(
    runChanged(elsewhere, { ...fresh, status: 'running' }, { ...DEFAULT_VIEW, sort: 'name' })
      .newRuns,
    ['new'],
    'counted once',
  );
  assert.deepEqual(
    runChanged(held, fresh, { ...DEFAULT_VIEW, page: 2 }).newRuns,
    ['new'],
    'a later page of the newest: counted',
  );
  assert.equal(
    runChanged(held, fresh, { ...DEFAULT_VIEW, text: 'zzz' }),
    held,
    'a new run the filter hides: nothing',
  );
  assert.equal(
    runChanged(held, run('old', { createdAt: '2026-12-01T11:00:00.000Z' }), DEFAULT_VIEW),
    held,
    'an older run elsewhere in the order: left where it is',
  );

  assert.deepEqual(runDeleted(held, 'b'), { ...held, runs: [a, c], total: 99 });
  assert.deepEqual(runDeleted(elsewhere, 'new').newRuns, []);
  assert.equal(runDeleted(held, 'zzz'), held);
});

test('filtering by status, tag and text (name, description, tags, who)', () => {
  const r = run('r1', {
    name: 'LR sweep 3',
    description: 'with **Adam**',
    tags: ['sweep'],
    status: 'failed',
    createdBy: 'Bob',
  });
  const none = { text: '', status: '', tag: '' };
  assert.ok(matches(r, none));
  assert.ok(
    matches(r, { ...none, status: 'failed' }) && !matches(r, { ...none, status: 'completed' }),
  );
  assert.ok(matches(r, { ...none, tag: 'sweep' }) && !matches(r, { ...none, tag: 'baseline' }));
  for (const text of ['sweep 3', 'adam', 'bob', 'SWEEP'])
    assert.ok(matches(r, { ...none, text }), text);
  assert.ok(!matches(r, { ...none, text: 'resnet' }));
});

test('the prediction grid spreads any panel size over even rows: never full rows and a lone digit', async () => {
  const { columnsFor } = await import('../../app/lib/evenColumns');
  assert.equal(columnsFor(16, 8), 8);
  assert.equal(columnsFor(16, 4), 4);
  assert.equal(columnsFor(10, 8), 5, 'ten digits: 5 + 5, not 8 + 2');
  assert.equal(columnsFor(7, 4), 4, 'seven at most four a row: 4 + 3');
  assert.equal(columnsFor(9, 8), 5, 'nine: 5 + 4, not 8 + 1');
  assert.equal(columnsFor(3, 8), 3);
  assert.equal(columnsFor(64, 8), 8);
  for (let n = 1; n <= 64; n++) {
    for (const most of [2, 4, 8]) {
      const c = columnsFor(n, most);
      const rows = Math.ceil(n / c);
      assert.ok(c <= most, `${n} at most ${most}: ${c} columns`);
      assert.equal(rows, Math.ceil(n / most), `${n} at most ${most}: no more rows than needed`);
      assert.ok(
        rows * c - n < rows,
        `${n} at most ${most}: the last row is short by less than one cell per row (${c} columns)`,
      );
    }
  }
});
