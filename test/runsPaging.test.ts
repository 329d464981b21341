/**
 * The runs list at 10,000 runs, through a real hub on a real SQLite file and the machine's
 * PostgreSQL: `GET /api/runs` sorts by every column kind (text, number, a hyperparameter out of
 * the JSON), filters, searches and pages in the database, agreeing with the same list computed
 * in JS; totals and page boundaries; every bad parameter a 400 INVALID in words; a page's
 * sparklines in one query; and the list's keys kept current by edits and by trainer events.
 */
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import type { Db } from '../server/db/client';
import { createRunQueries, type RunImport } from '../server/hub/storage/runs';
import { RUN_SORT_KEYS, type RunsPage } from '../server/protocol';
import type { TrainerEvent } from '../server/trainer/events';
import { postgresDatabases } from './helpers/db';
import { runOnFakeTrainer, startHub, type TestHub } from './helpers/hub';
import { seedRuns, sortLikeTheList } from './helpers/runsSeed';

const pg = postgresDatabases();
after(() => pg.dropAll());

const N = 10_000;
const SEEDED = seedRuns(N);
const notArchived = SEEDED.filter((r) => !r.archivedAt);

type Answer = {
  status: number;
  body:
    | { ok: true; data: RunsPage }
    | { ok: false; error: string; message: string; details?: Record<string, string> };
};
async function list(hub: TestHub, query: string): Promise<Answer> {
  const res = await fetch(`${hub.url}/api/runs${query ? `?${query}` : ''}`);
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}
async function page(hub: TestHub, query: string): Promise<RunsPage> {
  const answer = await list(hub, query);
  assert.ok(answer.body.ok, `${query}: ${JSON.stringify(answer.body)}`);
  return answer.body.data;
}
const ids = (runs: ReadonlyArray<{ id: string }>) => runs.map((r) => r.id);

/** A hub over `provider` holding the 10,000 seeded runs, or null when the database is absent (skipped). */
async function seededHub(
  t: TestContext,
  provider: 'sqlite' | 'postgresql',
): Promise<TestHub | null> {
  const databaseUrl = provider === 'postgresql' ? await pg.create(t) : undefined;
  if (databaseUrl === null) return null;
  const hub = await startHub({ databaseUrl });
  t.after(() => hub.close());
  assert.equal(await hub.hub.parts.storage.runs.insertMany(SEEDED), N);
  return hub;
}

for (const provider of ['sqlite', 'postgresql'] as const) {
  test(`${provider}: 10,000 runs sorted, filtered, searched and paged by the database`, async (t) => {
    const hub = await seededHub(t, provider);
    if (!hub) return;

    await t.test(
      'the default page: the newest 200 of the runs not archived, and how many there are',
      async () => {
        const p = await page(hub, '');
        assert.deepEqual(
          [p.total, p.offset, p.limit, p.sort, p.order],
          [notArchived.length, 0, 200, 'created', 'desc'],
        );
        assert.deepEqual(
          ids(p.runs),
          ids(sortLikeTheList(notArchived, 'created', 'desc').slice(0, 200)),
        );
        assert.deepEqual(
          p.tags,
          ['baseline', 'rare-tag', 'rare_tag', 'sweep'],
          'every tag in use, for the filter menu',
        );
      },
    );

    await t.test(
      'every column sorts both ways: text, numbers, hyperparameters out of the JSON; runs without a value last',
      async () => {
        for (const sort of RUN_SORT_KEYS) {
          for (const order of ['asc', 'desc'] as const) {
            const expected = ids(sortLikeTheList(notArchived, sort, order));
            for (const offset of [0, 4_800, notArchived.length - 30]) {
              const p = await page(hub, `sort=${sort}&order=${order}&limit=50&offset=${offset}`);
              assert.equal(p.total, notArchived.length);
              assert.deepEqual(
                ids(p.runs),
                expected.slice(offset, offset + 50),
                `sort=${sort}&order=${order}&offset=${offset}`,
              );
            }
          }
        }
        // Without `order`: newest first, every other column ascending.
        assert.equal((await page(hub, 'sort=name&limit=1')).order, 'asc');
        // The learning rate sorts by the one in force (the highest ones are changed ones), not the one it started with.
        const lr = await page(hub, 'sort=lr&order=desc&limit=1');
        assert.ok(lr.runs[0]!.learningRates.at(-1)!.value > lr.runs[0]!.hyperparams.learningRate);
      },
    );

    await t.test(
      'pages: every run exactly once across them, the last one short, past the end empty',
      async () => {
        const failed = sortLikeTheList(
          notArchived.filter((r) => r.status === 'failed'),
          'seed',
          'asc',
        );
        const seen: string[] = [];
        for (let offset = 0; ; offset += 200) {
          const p = await page(hub, `status=failed&sort=seed&limit=200&offset=${offset}`);
          assert.equal(p.total, failed.length);
          seen.push(...ids(p.runs));
          if (p.runs.length < 200) break;
        }
        assert.deepEqual(
          seen,
          ids(failed),
          'in order, none twice, none skipped (ties on the seed broken by id)',
        );
        const last = await page(hub, `status=failed&limit=200&offset=${failed.length - 1}`);
        assert.equal(last.runs.length, 1);
        for (const offset of [failed.length, failed.length + 10_000]) {
          const past = await page(hub, `status=failed&limit=200&offset=${offset}`);
          assert.deepEqual(
            [past.runs.length, past.total],
            [0, failed.length],
            'a page past the end is empty and says how many there are',
          );
        }
        assert.equal((await page(hub, 'limit=1000')).runs.length, 1000);
        assert.equal((await page(hub, 'limit=1')).runs.length, 1);
      },
    );

    await t.test(
      'filters: status, tag (exactly), creator and archived, alone and together',
      async () => {
        const count = async (query: string) => (await page(hub, `${query}&limit=1`)).total;
        const expect = (keep: (r: RunImport) => boolean, from = notArchived) =>
          from.filter(keep).length;
        assert.equal(
          await count('status=running'),
          expect((r) => r.status === 'running'),
        );
        assert.equal(
          await count('tag=baseline'),
          expect((r) => r.tags!.includes('baseline')),
        );
        assert.equal(
          await count('tag=rare_tag'),
          expect((r) => r.tags!.includes('rare_tag')),
          'an underscore is a character, not a wildcard',
        );
        assert.equal(
          await count('tag=Rare-Tag'),
          expect((r) => r.tags!.includes('rare-tag')),
          'tags are lower-case',
        );
        assert.equal(
          await count('creator=ADA'),
          expect((r) => r.createdBy === 'Ada'),
          'creator without regard to case',
        );
        assert.equal(
          await count('archived=only'),
          expect((r) => !!r.archivedAt, SEEDED),
        );
        assert.equal(await count('archived=include'), N);
        assert.equal(
          await count('status=completed&tag=sweep&creator=bob'),
          expect(
            (r) => r.status === 'completed' && r.tags!.includes('sweep') && r.createdBy === 'bob',
          ),
        );
        const both = await page(
          hub,
          'status=paused&tag=sweep&sort=accuracy&order=desc&limit=20&offset=5',
        );
        assert.deepEqual(
          ids(both.runs),
          ids(
            sortLikeTheList(
              notArchived.filter((r) => r.status === 'paused' && r.tags!.includes('sweep')),
              'accuracy',
              'desc',
            ).slice(5, 25),
          ),
        );
      },
    );

    await t.test(
      'search: name, description, tags, creator and id, without regard to case; % and _ are plain characters',
      async () => {
        const search = (q: string) =>
          notArchived.filter((r) =>
            [r.name, r.description ?? '', r.createdBy, r.id, ...r.tags!].some((s) =>
              s.toLowerCase().includes(q.toLowerCase()),
            ),
          );
        for (const q of [
          'ADAM',
          'lr SWEEP 12',
          'rare_tag',
          'seed-0424',
          'CYD',
          '50%',
          'dropout_rate',
          '_',
          '%',
          'no such run',
        ]) {
          const p = await page(hub, `q=${encodeURIComponent(q)}&limit=100`);
          const expected = search(q);
          assert.equal(p.total, expected.length, `q=${q}`);
          assert.deepEqual(
            ids(p.runs),
            ids(sortLikeTheList(expected, 'created', 'desc').slice(0, 100)),
            `q=${q}`,
          );
        }
        const within = await page(
          hub,
          `q=${encodeURIComponent('  adam  ')}&status=stopped&sort=name&limit=5`,
        );
        assert.deepEqual(
          ids(within.runs),
          ids(
            sortLikeTheList(
              search('adam').filter((r) => r.status === 'stopped'),
              'name',
              'asc',
            ).slice(0, 5),
          ),
          'trimmed, and with the other filters',
        );
      },
    );

    await t.test(
      'bad parameters: 400 INVALID saying what is wrong, never a default instead',
      async () => {
        const cases: Array<[string, RegExp]> = [
          [
            'sort=nmae',
            /sort: "nmae" is not a column the runs list sorts by; use one of created, name, status, progress, loss, accuracy, lr, backend, creator, epochs, batchSize, optimizer, seed/,
          ],
          ['sort=', /sort: "" is not a column/],
          ['order=up', /order: "up" is not an order; use one of asc, desc/],
          ['status=done', /status: "done" is not a run status; use one of queued, running/],
          ['tag=%23!', /tag: "#!" is not a tag: a tag is 1–32 letters/],
          [
            'archived=yes',
            /archived: "yes" is not a choice of archived runs; use one of exclude, only, include/,
          ],
          ['limit=0', /limit: a whole number from 1 to 1,000, got "0"/],
          ['limit=1001', /limit: a whole number from 1 to 1,000, got "1001"/],
          ['limit=ten', /limit: a whole number from 1 to 1,000, got "ten"/],
          ['limit=5.5', /limit: a whole number/],
          ['offset=-1', /offset: a whole number from 0 to 2,147,483,647, got "-1"/],
          ['offset=1e3', /offset: a whole number/],
          ['q=' + 'x'.repeat(201), /q: a search is at most 200 characters/],
          ['q=a%0Ab', /q: a search is one line of text/],
          ['creator=', /creator: a name of at least one character/],
          [
            'srot=name',
            /unknown parameter "srot": GET \/api\/runs takes sort, order, status, tag, q, creator, archived, limit, offset/,
          ],
          ['page=2&size=10', /unknown parameters "page", "size"/],
          [
            'status=failed&status=queued',
            /"status" is given more than once: give each parameter once/,
          ],
          ['sort=nmae&order=up', /sort: .*; order: /],
        ];
        for (const [query, message] of cases) {
          const answer = await list(hub, query);
          assert.equal(answer.status, 400, query);
          assert.ok(
            !answer.body.ok && answer.body.error === 'INVALID',
            `${query}: ${JSON.stringify(answer.body)}`,
          );
          assert.match(answer.body.message, message, query);
        }
        // One field each in the details, for a client that marks the input.
        const both = (await list(hub, 'sort=x&limit=0')).body;
        assert.ok(!both.ok);
        assert.deepEqual(Object.keys(both.details ?? {}).sort(), ['limit', 'sort']);
      },
    );

    await t.test(
      "a page's loss sparklines come from one query, bounded to the points asked for",
      async () => {
        const shown = (await page(hub, 'limit=50')).runs.filter((r) => r.lastStep > 0);
        assert.ok(shown.length >= 40);
        // Batches for the page's runs: a loss that falls, with a diverged (null) stretch in some.
        const batches = shown.flatMap((r, j) =>
          Array.from({ length: r.lastStep }, (_, k) => ({
            runId: r.id,
            seq: k + 1,
            epoch: 1,
            batch: k,
            step: k + 1,
            loss: j % 5 === 0 && k % 7 === 3 ? null : 2 / (k + 1) + j / 100,
            accuracy: 50,
            learningRate: 0.01,
            samplesPerSec: 100,
            time: 0,
          })),
        );
        await hub.db.prisma.batchMetric.createMany({ data: batches });
        const points = 8;
        const expected: Record<string, number[]> = {};
        for (const r of shown) {
          const sums = new Map<number, { sum: number; n: number }>();
          for (const b of batches.filter((x) => x.runId === r.id && x.loss !== null)) {
            const bucket = Math.floor(((b.step - 1) * points) / Math.max(1, r.lastStep));
            const s = sums.get(bucket) ?? { sum: 0, n: 0 };
            sums.set(bucket, { sum: s.sum + b.loss!, n: s.n + 1 });
          }
          expected[r.id] = [...sums.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([, s]) => s.sum / s.n);
        }
        const noBatches = (await page(hub, 'sort=progress&limit=1')).runs[0]!;
        assert.equal(noBatches.lastStep, 0);

        const counted = countingDb(hub.db.prisma);
        const lines = await createRunQueries(counted.db, provider).sparklines(
          [...ids(shown), noBatches.id, 'no-such-run'],
          points,
        );
        assert.equal(counted.calls(), 1, `one query for ${shown.length + 2} runs`);
        assert.deepEqual(
          Object.keys(lines).sort(),
          [...ids(shown), noBatches.id].sort(),
          'every run asked for that exists',
        );
        assert.deepEqual(lines[noBatches.id], [], 'a run without batches: an empty line');
        for (const r of shown) {
          assert.ok(lines[r.id]!.length <= points);
          assert.equal(lines[r.id]!.length, expected[r.id]!.length, r.id);
          lines[r.id]!.forEach((v, i) =>
            assert.ok(
              Math.abs(v - expected[r.id]![i]!) < 1e-9,
              `${r.id}[${i}]: ${v} vs ${expected[r.id]![i]}`,
            ),
          );
        }
        const res = await fetch(
          `${hub.url}/api/runs/sparklines?ids=${ids(shown).join(',')}&points=${points}`,
        );
        const body = (await res.json()) as { data: { sparklines: Record<string, number[]> } };
        assert.deepEqual(Object.keys(body.data.sparklines).sort(), ids(shown).sort());
      },
    );
  });
}

/** `db` with every call it gets counted (each model method, `$queryRaw`… is one statement here). */
function countingDb(db: Db): { db: Db; calls: () => number } {
  let calls = 0;
  const counting = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, key) {
        const value = Reflect.get(obj, key) as unknown;
        if (typeof value === 'function')
          return (...args: unknown[]) => (
            calls++,
            (value as (...a: unknown[]) => unknown).apply(obj, args)
          );
        if (
          value !== null &&
          typeof value === 'object' &&
          typeof key === 'string' &&
          !key.startsWith('_')
        )
          return counting(value);
        return value;
      },
    });
  return { db: counting(db), calls: () => calls };
}

test("an edit and a trainer's events keep the list's keys current: the run sorts, filters and is found by what it is now", async (t) => {
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'lister');
  const events: TrainerEvent[] = [
    {
      runId,
      seq: 1,
      type: 'run:started',
      hyperparams: { ...(await hub.hub.parts.storage.runs.summary(runId))!.hyperparams },
      backend: { name: 'wasm', device: 'test', host: 'test-host' },
      trainSize: 320,
      testSize: 100,
      batchesPerEpoch: 10,
      totalSteps: 10,
      startStep: 0,
      parameterCount: 21840,
      time: Date.now(),
    },
    ...[0.9, 0.7, 0.5, null].map((loss, i): TrainerEvent => ({
      runId,
      seq: i + 2,
      type: 'metrics:batch',
      point: {
        step: i + 1,
        epoch: 1,
        batch: i,
        loss,
        accuracy: 50,
        learningRate: i < 2 ? 0.01 : 0.2,
        samplesPerSec: 100,
        time: Date.now(),
      },
    })),
  ];
  assert.ok((await trainer.timeout(10_000).emitWithAck('trainer:events', { runId, events })).ok);
  await hub.hub.flush();
  const row = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  assert.deepEqual(
    [row.lastLoss, row.progress, row.currentLearningRate],
    [0.5, 0.4, 0.2],
    'the latest finite loss, 4 of 10 steps, the rate in force',
  );

  const edited = await ada.call('run:edit', {
    runId,
    name: 'Zebra crossing',
    description: 'try 100% of the data',
    tags: ['Fresh Tag'],
  });
  assert.ok(edited.ok, JSON.stringify(edited));
  const first = async (query: string) => (await page(hub, `${query}&limit=1`)).runs[0]?.id;
  assert.equal(await first('sort=name&order=desc'), runId, 'sorts by its new name');
  assert.equal(await first('tag=fresh%20tag'), runId);
  assert.equal(await first('q=100%25'), runId, 'found by its new description');
  assert.equal(await first('q=zebra'), runId);
  assert.deepEqual((await page(hub, 'limit=1')).tags, ['fresh tag']);
  const retagged = await ada.call('run:edit', { runId, tags: [] });
  assert.ok(retagged.ok);
  assert.equal(await first('tag=fresh%20tag'), undefined, 'its old tag no longer finds it');
  assert.deepEqual((await page(hub, 'limit=1')).tags, []);
  assert.equal(await first('q=zebra'), runId, 'the name is still its name');
});
