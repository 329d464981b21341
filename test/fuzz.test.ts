/**
 * Hostile input, generated (fast-check): thousands of random and malformed payloads on every
 * browser event, the trainer namespace and the HTTP routes, random handshakes and a flood of
 * annotations, hostile trainers, and requests and handshakes from other sites or naming other
 * hosts. The hub never crashes, answers each with the error envelope (or refuses the
 * connection), and rejected requests change nothing in the database.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { io } from 'socket.io-client';
import {
  browserSchemas,
  ERROR_CODES,
  PROTOCOL_VERSION,
  TRAINER_NAMESPACE,
  trainerEventsSchema,
  type BrowserCommand,
} from '../server/protocol';
import { assertOnlyAdded, dbState } from './helpers/dbState';
import {
  connectBrowser,
  eventually,
  fakeTrainer,
  runOnFakeTrainer,
  handshakeOutcome,
  startHub,
  trainerAuth,
  type TestBrowser,
  type TestHub,
} from './helpers/hub';

const RUNS = Number(process.env.LIVETRAIN_FUZZ_RUNS ?? 150);

async function counts(hub: TestHub) {
  await hub.hub.flush();
  const db = hub.db.prisma;
  return [
    await db.run.count(),
    await db.annotation.count(),
    await db.annotationEdit.count(),
    await db.participant.count(),
    await db.batchMetric.count(),
    await db.checkpoint.count(),
  ];
}

const isEnvelopeFailure = (r: unknown): r is { ok: false; error: string; message: string } =>
  typeof r === 'object' &&
  r !== null &&
  (r as { ok?: unknown }).ok === false &&
  ERROR_CODES.includes((r as { error: never }).error) &&
  typeof (r as { message?: unknown }).message === 'string';

/** Anything JSON-like, biased towards objects with the protocol's own keys. */
const keys = [
  'name',
  'runId',
  'afterSeq',
  'hyperparams',
  'epochs',
  'batchSize',
  'learningRate',
  'step',
  'text',
  'id',
  'participantId',
  'colour',
  'reporting',
];
const payload = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.dictionary(
    fc.constantFrom(...keys),
    fc.oneof(
      fc.anything({ maxDepth: 2 }),
      fc.double(),
      fc.integer(),
      fc.string({ maxLength: 3000 }),
    ),
    { maxKeys: 6 },
  ),
);

describe('fuzz', () => {
  let hub: TestHub;
  let ada: TestBrowser;
  let runId: string;

  before(async () => {
    hub = await startHub({ annotationsPerMinute: 20 });
    ada = await connectBrowser(hub.url, 'Ada');
    const r = await ada.call('run:start', { name: 'fuzz target', hyperparams: { epochs: 1 } });
    assert.ok(r.ok);
    runId = r.data.run.id;
  });
  after(async () => {
    ada?.close();
    await hub?.close();
  });

  test('every browser event answers payloads its schema rejects with INVALID or TOO_LARGE, and nothing changes', async () => {
    const before = await dbState(hub);
    let sent = 0;
    for (const event of Object.keys(browserSchemas) as BrowserCommand[]) {
      await fc.assert(
        fc.asyncProperty(payload, async (p) => {
          fc.pre(!browserSchemas[event].safeParse(p).success);
          sent++;
          const result = await ada.call(event, p);
          assert.ok(
            isEnvelopeFailure(result),
            `${event} ${JSON.stringify(p)?.slice(0, 120)} → ${JSON.stringify(result)}`,
          );
          assert.ok(['INVALID', 'TOO_LARGE'].includes(result.error), `${event}: ${result.error}`);
        }),
        { numRuns: RUNS },
      );
    }
    assert.ok(sent >= RUNS * 8, `${sent} rejected payloads sent`);
    assert.deepEqual(await dbState(hub), before, 'the database is unchanged, row for row');
    assert.ok((await ada.call('run:watch', { runId })).ok, 'the connection still works');
  });

  test('HTTP routes answer random bodies, paths and queries with the envelope', async () => {
    const before = await counts(hub);
    const beforeRows = await dbState(hub);
    const routes = [
      '/api/runs',
      `/api/runs/${runId}/annotations`,
      `/api/runs/${runId}/set-lr`,
      `/api/runs/${runId}/predict`,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(
          fc.string({ maxLength: 200 }),
          payload.map((p) => JSON.stringify(p) ?? 'null'),
        ),
        async (route, body) => {
          const res = await fetch(hub.url + route, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          const json = (await res.json()) as unknown;
          if (res.status < 300) return; // a random body that happens to be valid
          assert.ok(
            isEnvelopeFailure(json),
            `${route} ${body.slice(0, 80)} → ${res.status} ${JSON.stringify(json)}`,
          );
        },
      ),
      { numRuns: RUNS * 2 },
    );
    await fc.assert(
      fc.asyncProperty(fc.webPath(), fc.webQueryParameters(), async (path, query) => {
        const res = await fetch(`${hub.url}/api${path}?${query}`);
        const json = (await res.json()) as unknown;
        if (res.status >= 300)
          assert.ok(isEnvelopeFailure(json), `${path}?${query} → ${res.status}`);
      }),
      { numRuns: RUNS },
    );
    // Rejected bodies changed nothing; valid ones may have created runs or notes.
    const after = await counts(hub);
    assert.ok(
      after[4] === before[4] && after[5] === before[5],
      'no metrics or checkpoints from the API',
    );
    // Row for row: what was there is unchanged; only runs and notes a valid body asked for are new.
    const added = assertOnlyAdded(
      beforeRows,
      await dbState(hub),
      ['run', 'annotation'],
      'random HTTP requests',
    );
    for (const run of added.run)
      assert.deepEqual(
        [run.status, run.createdBy, run.trainerId, run.lastSeq],
        ['queued', 'api', null, 0],
        `new run ${run.id}`,
      );
    const newRuns = new Set(added.run.map((r) => r.id));
    for (const a of added.annotation) {
      const startedByApi =
        a.kind === 'event' && newRuns.has(a.runId) && a.text === 'api started the run';
      assert.ok(a.kind === 'note' || startedByApi, `new annotation ${JSON.stringify(a)}`);
    }
    assert.equal((await fetch(`${hub.url}/api/health`)).status, 200);
  });

  test('random handshakes and protocol versions are refused with a reason', async () => {
    const refusal = (ns: string, auth: unknown) => handshakeOutcome(hub.url, ns, auth);
    await fc.assert(
      fc.asyncProperty(
        fc.integer().filter((v) => v !== PROTOCOL_VERSION),
        async (v) => {
          assert.equal(await refusal('/', { protocolVersion: v }), 'UNSUPPORTED_VERSION');
        },
      ),
      { numRuns: 30 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 2 }), { maxKeys: 4 }),
        async (auth) => {
          fc.pre(typeof auth.protocolVersion !== 'number');
          assert.equal(await refusal('/', auth), 'INVALID');
          assert.equal(await refusal(TRAINER_NAMESPACE, auth), 'INVALID');
        },
      ),
      { numRuns: 30 },
    );
  });

  test('a trainer peer sending garbage gets INVALID; a flood of notes is rate-limited; the hub keeps serving', async () => {
    const trainer = await fakeTrainer(hub.url, trainerAuth('fuzzer'));
    // The fuzzer takes the oldest queued run (the target); it answers the job so the rows hold still.
    trainer.on('job:assign', (j: { runId: string }, ack: (r: unknown) => void) =>
      ack({ ok: true, data: { runId: j.runId } }),
    );
    await eventually(
      async () =>
        (await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } })).trainerId ===
          'fuzzer' && hub.logs.some((l) => /trainer fuzzer connected/.test(l)),
      'the fuzzer holds the target run',
    );
    const before = await counts(hub);
    const beforeRows = await dbState(hub);
    await fc.assert(
      fc.asyncProperty(payload, async (p) => {
        fc.pre(!trainerEventsSchema.safeParse(p).success);
        const r = await trainer.timeout(5000).emitWithAck('trainer:events', p);
        assert.ok(isEnvelopeFailure(r) && r.error === 'INVALID', JSON.stringify(r));
        trainer.emit('trainer:report', p);
      }),
      { numRuns: RUNS },
    );
    // Garbage events and reports (fire-and-forget: give them the time a round trip takes) changed no row.
    await trainer.timeout(5000).emitWithAck('trainer:events', null);
    assert.deepEqual(
      await dbState(hub),
      beforeRows,
      'garbage from the trainer changed nothing, row for row',
    );
    trainer.close();
    const adaId = (await hub.db.prisma.participant.findFirstOrThrow({ where: { name: 'Ada' } })).id;
    assert.deepEqual(
      await hub.db.prisma.annotation.findMany({ where: { authorId: adaId, kind: 'note' } }),
      [],
      'Ada has written no note yet',
    );
    const flood = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ada.call('annotation:add', { runId, step: i, text: `<script>alert(${i})</script>` }),
      ),
    );
    const ok = flood.filter((r) => r.ok).length;
    assert.ok(ok <= 20 && flood.every((r) => r.ok || r.error === 'RATE_LIMITED'), `${ok} accepted`);
    // The setup allows 20 notes a minute: exactly 20 are accepted and stored, with their texts.
    assert.equal(ok, 20, 'exactly the allowed number accepted');
    const accepted = flood.flatMap((r) =>
      r.ok ? [[r.data.annotation.id, r.data.annotation.step, r.data.annotation.text]] : [],
    );
    for (const [, step, text] of accepted) assert.equal(text, `<script>alert(${step})</script>`);
    // (Random HTTP bodies above may have added notes of their own: only Ada's are the flood's.)
    const notes = await hub.db.prisma.annotation.findMany({
      where: { runId, kind: 'note', authorId: adaId },
    });
    assert.ok(
      notes.length === 20 && notes.every((n) => n.text.startsWith('<script>')),
      'text is stored as given (the page shows it as text)',
    );
    const adas = await hub.db.prisma.annotation.findMany({
      where: { authorId: adaId, kind: 'note' },
      orderBy: { id: 'asc' },
    });
    assert.deepEqual(
      adas.map((n) => [n.id, n.step, n.text]),
      accepted.sort((a, b) => Number(a[0]) - Number(b[0])),
      'the 20 accepted notes are stored, each with its text',
    );
    assert.ok(adas.every((n) => n.runId === runId && n.kind === 'note' && n.authorName === 'Ada'));
    const afterCounts = await counts(hub);
    assert.deepEqual(
      [afterCounts[0], afterCounts[4], afterCounts[5]],
      [before[0], before[4], before[5]],
    );
    assert.equal((await fetch(`${hub.url}/api/health`)).status, 200);
  });
});

/**
 * The fuzz above takes the hub's own schemas as its oracle, so a schema more permissive than
 * the protocol passes it. These expectations are written by hand from docs/protocol.md (and
 * server/protocol where the page is silent): each limit just inside and just outside.
 */
describe('limits, just inside and just outside', () => {
  let hub: TestHub;
  let ada: TestBrowser;
  let runId: string;
  let noteId: number;

  before(async () => {
    hub = await startHub({ annotationsPerMinute: 1000 });
    ada = await connectBrowser(hub.url, 'Ada');
    const r = await ada.call('run:start', { name: 'limits', hyperparams: { epochs: 1 } });
    assert.ok(r.ok);
    runId = r.data.run.id;
    const note = await ada.call('annotation:add', { runId, step: 1, text: 'to edit' });
    assert.ok(note.ok);
    noteId = note.data.annotation.id;
  });
  after(async () => {
    ada?.close();
    await hub?.close();
  });

  /** 'ok', or the error code of the ack. */
  const outcome = async (b: TestBrowser, event: BrowserCommand, p: unknown) => {
    const r = await b.call(event, p);
    return r.ok ? 'ok' : r.error;
  };
  /** A payload whose JSON is exactly `bytes` long: `base` plus an unknown key (stripped) as padding. */
  const sized = (base: Record<string, unknown>, bytes: number) => {
    const empty = JSON.stringify({ ...base, pad: '' }).length;
    const p = { ...base, pad: 'x'.repeat(bytes - empty) };
    assert.equal(JSON.stringify(p).length, bytes);
    return p;
  };
  const KiB64 = 64 * 1024;
  /** A payload for messages: long strings shown by their length. */
  const show = (p: unknown) =>
    JSON.stringify(p, (_k, v: unknown) =>
      typeof v === 'string' && v.length > 16 ? `<${v.length} × ${v.trim()[0]}>` : v,
    );

  test('browser commands: names, texts, ids, seqs, learning rate, payload size', async () => {
    const hal = await connectBrowser(hub.url, 'Hal');
    const s = (n: number, c = 'a') => c.repeat(n);
    const cases: Array<[TestBrowser, BrowserCommand, unknown, string]> = [
      // hello: name 1–64 characters (trimmed), colour #rrggbb, participantId 8–64 of [A-Za-z0-9_-].
      [hal, 'hello', { name: 'H' }, 'ok'],
      [hal, 'hello', { name: s(64) }, 'ok'],
      [hal, 'hello', { name: ` ${s(64)} ` }, 'ok'],
      [hal, 'hello', { name: s(65) }, 'INVALID'],
      [hal, 'hello', { name: '' }, 'INVALID'],
      [hal, 'hello', { name: '  ' }, 'INVALID'],
      [hal, 'hello', { name: 'Hal', colour: '#a1B2c3' }, 'ok'],
      [hal, 'hello', { name: 'Hal', colour: '#a1B2c' }, 'INVALID'],
      [hal, 'hello', { name: 'Hal', colour: '#a1B2c3f' }, 'INVALID'],
      [hal, 'hello', { name: 'Hal', participantId: s(8, 'p') }, 'ok'],
      [hal, 'hello', { name: 'Hal', participantId: s(64, 'q') }, 'ok'],
      [hal, 'hello', { name: 'Hal', participantId: s(7, 'p') }, 'INVALID'],
      [hal, 'hello', { name: 'Hal', participantId: s(65, 'q') }, 'INVALID'],
      [hal, 'hello', { name: 'Hal', participantId: 'hal-1234.5' }, 'INVALID'],
      // runId: 1–128 characters (a well-formed unknown one is NOT_FOUND, not INVALID).
      [ada, 'run:watch', { runId: s(128) }, 'NOT_FOUND'],
      [ada, 'run:watch', { runId: s(129) }, 'INVALID'],
      [ada, 'run:watch', { runId: '' }, 'INVALID'],
      [ada, 'run:unwatch', { runId: s(129) }, 'INVALID'],
      [ada, 'run:stop', { runId: s(128) }, 'NOT_FOUND'],
      [ada, 'run:stop', { runId: s(129) }, 'INVALID'],
      // afterSeq: an integer ≥ 0.
      [ada, 'run:watch', { runId, afterSeq: 0 }, 'ok'],
      [ada, 'run:watch', { runId, afterSeq: 2 ** 31 - 1 }, 'ok'],
      [ada, 'run:watch', { runId, afterSeq: -1 }, 'INVALID'],
      [ada, 'run:watch', { runId, afterSeq: 0.5 }, 'INVALID'],
      // learningRate 0 < lr ≤ 10: inside, the queued run answers CONFLICT (validation passed).
      [ada, 'run:set-lr', { runId, learningRate: 10 }, 'CONFLICT'],
      [ada, 'run:set-lr', { runId, learningRate: 1e-9 }, 'CONFLICT'],
      [ada, 'run:set-lr', { runId, learningRate: 10.000001 }, 'INVALID'],
      [ada, 'run:set-lr', { runId, learningRate: 0 }, 'INVALID'],
      [ada, 'run:set-lr', { runId, learningRate: -1e-9 }, 'INVALID'],
      [ada, 'run:set-lr', { runId, learningRate: Number.POSITIVE_INFINITY }, 'INVALID'],
      // Notes: step ≥ 0 (an integer), text 1–2000 characters (trimmed); ids are integers ≥ 1.
      [ada, 'annotation:add', { runId, step: 0, text: s(2000, 'n') }, 'ok'],
      [ada, 'annotation:add', { runId, step: 0, text: ` ${s(2000, 'n')} ` }, 'ok'],
      [ada, 'annotation:add', { runId, step: 0, text: s(2001, 'n') }, 'INVALID'],
      [ada, 'annotation:add', { runId, step: -1, text: 'n' }, 'INVALID'],
      [ada, 'annotation:add', { runId, step: 1.5, text: 'n' }, 'INVALID'],
      [ada, 'annotation:add', { runId, step: 0, text: '' }, 'INVALID'],
      [ada, 'annotation:add', { runId: s(129), step: 0, text: 'n' }, 'INVALID'],
      [ada, 'annotation:edit', { id: noteId, text: s(2000, 'e') }, 'ok'],
      [ada, 'annotation:edit', { id: noteId, text: s(2001, 'e') }, 'INVALID'],
      [ada, 'annotation:edit', { id: 0, text: 'e' }, 'INVALID'],
      [ada, 'annotation:edit', { id: 1.5, text: 'e' }, 'INVALID'],
      [ada, 'annotation:delete', { id: 0 }, 'INVALID'],
      [ada, 'annotation:delete', { id: 2 ** 31 - 1 }, 'NOT_FOUND'],
      // A browser payload may be 64 KiB (of JSON); one byte more is TOO_LARGE.
      [ada, 'run:watch', sized({ runId }, KiB64), 'ok'],
      [ada, 'run:watch', sized({ runId }, KiB64 + 1), 'TOO_LARGE'],
      [ada, 'annotation:add', sized({ runId, step: 3, text: 'padded' }, KiB64), 'ok'],
      [ada, 'annotation:add', sized({ runId, step: 3, text: 'padded' }, KiB64 + 1), 'TOO_LARGE'],
    ];
    const got: string[] = [];
    for (const [b, event, p] of cases) got.push(await outcome(b, event, p));
    hal.close();
    const describeCase = ([b, event, p]: (typeof cases)[number]) =>
      `${b === ada ? 'Ada' : 'Hal'} ${event} ${show(p)}`;
    assert.deepEqual(
      cases.map((c, i) => `${describeCase(c)} → ${got[i]}`),
      cases.map((c) => `${describeCase(c)} → ${c[3]}`),
    );
    // What was accepted is stored as given: the 2000-character texts whole.
    const note = await hub.db.prisma.annotation.findUniqueOrThrow({ where: { id: noteId } });
    assert.equal(note.text, s(2000, 'e'));
    assert.equal(await hub.db.prisma.annotation.count({ where: { runId, text: s(2000, 'n') } }), 2);
  });

  test('run:start: name 1–120 characters, hyperparameters at their limits', async () => {
    const hp = (h: Record<string, unknown>) => ({
      name: 'limit',
      hyperparams: { epochs: 1, ...h },
    });
    const s = (n: number) => 'r'.repeat(n);
    const cases: Array<[unknown, string]> = [
      [{ name: s(120), hyperparams: {} }, 'ok'],
      [{ name: s(121), hyperparams: {} }, 'INVALID'],
      [{ name: '', hyperparams: {} }, 'INVALID'],
      [hp({ epochs: 1 }), 'ok'],
      [hp({ epochs: 1000 }), 'ok'],
      [hp({ epochs: 0 }), 'INVALID'],
      [hp({ epochs: 1001 }), 'INVALID'],
      [hp({ epochs: 1.5 }), 'INVALID'],
      [hp({ batchSize: 1 }), 'ok'],
      [hp({ batchSize: 8192 }), 'ok'],
      [hp({ batchSize: 0 }), 'INVALID'],
      [hp({ batchSize: 8193 }), 'INVALID'],
      [hp({ learningRate: 10 }), 'ok'],
      [hp({ learningRate: 1e-9 }), 'ok'],
      [hp({ learningRate: 10.000001 }), 'INVALID'],
      [hp({ learningRate: 0 }), 'INVALID'],
      [hp({ momentum: 0 }), 'ok'],
      [hp({ momentum: 0.999 }), 'ok'],
      [hp({ momentum: 1 }), 'INVALID'],
      [hp({ momentum: -0.001 }), 'INVALID'],
      [hp({ seed: 0 }), 'ok'],
      [hp({ seed: 2 ** 31 - 1 }), 'ok'],
      [hp({ seed: 2 ** 31 }), 'INVALID'],
      [hp({ seed: -1 }), 'INVALID'],
      [hp({ optimizer: 'adam' }), 'ok'],
      [hp({ optimizer: 'Adam' }), 'INVALID'],
      [hp({ trainLimit: 1, testLimit: 1 }), 'ok'],
      [hp({ trainLimit: 0 }), 'INVALID'],
      [hp({ testLimit: 0 }), 'INVALID'],
    ];
    const runsBefore = await hub.db.prisma.run.count();
    const got: string[] = [];
    for (const [p] of cases) got.push(await outcome(ada, 'run:start', p));
    assert.deepEqual(
      cases.map(([p], i) => `${show(p)} → ${got[i]}`),
      cases.map(([p, want]) => `${show(p)} → ${want}`),
    );
    assert.equal(
      await hub.db.prisma.run.count(),
      runsBefore + cases.filter(([, want]) => want === 'ok').length,
      'each accepted start made one run',
    );
    // Accepted values are stored as given, not clamped.
    const stored = await hub.db.prisma.run.findMany({ select: { name: true, hyperparams: true } });
    assert.ok(stored.some((r) => r.name === s(120)));
    for (const h of [
      { epochs: 1000 },
      { batchSize: 8192 },
      { learningRate: 10 },
      { learningRate: 1e-9 },
      { momentum: 0.999 },
      { seed: 2 ** 31 - 1 },
    ]) {
      const [k, v] = Object.entries(h)[0];
      assert.ok(
        stored.some((r) => (r.hyperparams as Record<string, unknown>)[k] === v),
        `${k} ${v} stored`,
      );
    }
  });

  test('HTTP: body size, query limits, afterSeq', async () => {
    const post = async (path: string, body: string) => {
      const res = await fetch(hub.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return `${res.status} ${((await res.json()) as { ok: boolean; error?: string }).error ?? 'ok'}`;
    };
    const get = async (path: string) => {
      const res = await fetch(hub.url + path);
      return `${res.status} ${((await res.json()) as { ok: boolean; error?: string }).error ?? 'ok'}`;
    };
    const lrBody = (bytes: number) => JSON.stringify(sized({ learningRate: 0.5 }, bytes));
    const noteBody = (text: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ step: 1, text, ...extra });
    const results: Array<[string, string, string]> = [
      // Bodies up to 64 KiB; inside, the queued run answers CONFLICT (the body was read and valid).
      [
        'set-lr body of 64 KiB',
        await post(`/api/runs/${runId}/set-lr`, lrBody(KiB64)),
        '409 CONFLICT',
      ],
      [
        'set-lr body of 64 KiB + 1',
        await post(`/api/runs/${runId}/set-lr`, lrBody(KiB64 + 1)),
        '413 TOO_LARGE',
      ],
      [
        'set-lr 10',
        await post(`/api/runs/${runId}/set-lr`, JSON.stringify({ learningRate: 10 })),
        '409 CONFLICT',
      ],
      [
        'set-lr 10.000001',
        await post(`/api/runs/${runId}/set-lr`, JSON.stringify({ learningRate: 10.000001 })),
        '400 INVALID',
      ],
      [
        'note of 2000',
        await post(`/api/runs/${runId}/annotations`, noteBody('h'.repeat(2000))),
        '201 ok',
      ],
      [
        'note of 2001',
        await post(`/api/runs/${runId}/annotations`, noteBody('h'.repeat(2001))),
        '400 INVALID',
      ],
      [
        'author of 64',
        await post(`/api/runs/${runId}/annotations`, noteBody('by', { author: 'a'.repeat(64) })),
        '201 ok',
      ],
      [
        'author of 65',
        await post(`/api/runs/${runId}/annotations`, noteBody('by', { author: 'a'.repeat(65) })),
        '400 INVALID',
      ],
      [
        'run name of 120',
        await post(
          '/api/runs',
          JSON.stringify({ name: 'n'.repeat(120), hyperparams: { epochs: 1 } }),
        ),
        '201 ok',
      ],
      [
        'run name of 121',
        await post(
          '/api/runs',
          JSON.stringify({ name: 'n'.repeat(121), hyperparams: { epochs: 1 } }),
        ),
        '400 INVALID',
      ],
      ['runs limit 1', await get('/api/runs?limit=1'), '200 ok'],
      ['runs limit 1000', await get('/api/runs?limit=1000'), '200 ok'],
      ['runs limit 0', await get('/api/runs?limit=0'), '400 INVALID'],
      ['runs limit 1001', await get('/api/runs?limit=1001'), '400 INVALID'],
      ['metrics afterSeq 0', await get(`/api/runs/${runId}/metrics?afterSeq=0`), '200 ok'],
      ['metrics afterSeq -1', await get(`/api/runs/${runId}/metrics?afterSeq=-1`), '400 INVALID'],
      ['metrics afterSeq 1.5', await get(`/api/runs/${runId}/metrics?afterSeq=1.5`), '400 INVALID'],
      ['metrics limit 100000', await get(`/api/runs/${runId}/metrics?limit=100000`), '200 ok'],
      ['metrics limit 100001', await get(`/api/runs/${runId}/metrics?limit=100001`), '400 INVALID'],
    ];
    assert.deepEqual(
      results.map(([what, got]) => `${what} → ${got}`),
      results.map(([what, , want]) => `${what} → ${want}`),
    );
  });

  test('handshakes: a token up to 512 characters, trainer ids of 1–128 [A-Za-z0-9_.-]', async () => {
    const refusal = (ns: string, auth: unknown) => handshakeOutcome(hub.url, ns, auth);
    const results: Array<[string, string, string]> = [
      [
        'token of 512',
        await refusal('/', { protocolVersion: PROTOCOL_VERSION, token: 't'.repeat(512) }),
        'connected',
      ],
      [
        'token of 513',
        await refusal('/', { protocolVersion: PROTOCOL_VERSION, token: 't'.repeat(513) }),
        'INVALID',
      ],
      ['protocol version 1.5', await refusal('/', { protocolVersion: 1.5 }), 'INVALID'],
      ['trainer id of 1', await refusal(TRAINER_NAMESPACE, trainerAuth('t')), 'connected'],
      [
        'trainer id of 128',
        await refusal(TRAINER_NAMESPACE, trainerAuth('t'.repeat(128))),
        'connected',
      ],
      [
        'trainer id of 129',
        await refusal(TRAINER_NAMESPACE, trainerAuth('t'.repeat(129))),
        'INVALID',
      ],
      ['trainer id ""', await refusal(TRAINER_NAMESPACE, trainerAuth('')), 'INVALID'],
      ['trainer id with a space', await refusal(TRAINER_NAMESPACE, trainerAuth('a b')), 'INVALID'],
      ['trainer id a_b.c-1', await refusal(TRAINER_NAMESPACE, trainerAuth('a_b.c-1')), 'connected'],
    ];
    assert.deepEqual(
      results.map(([what, got]) => `${what} → ${got}`),
      results.map(([what, , want]) => `${what} → ${want}`),
    );
  });
});

test('a hostile trainer (seq jumps, repeats, extreme and out-of-range values) gets envelopes, and no acknowledgement ever passes a seq the hub did not store', async (t) => {
  const { hub, trainer, runId } = await runOnFakeTrainer(t, 'hostile');
  const value = fc.oneof(
    fc.double(),
    fc.constantFrom(0, -1, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 31 - 1),
  );
  // Hostile events: any seq (jumps, repeats, zero, past 32 bits), any value (NaN, ±Infinity, huge).
  const hostile = fc.array(
    fc.record({
      seq: fc.oneof(
        fc.integer({ min: -1, max: 60 }),
        fc.integer({ min: 1, max: 2 ** 32 }),
        fc.constantFrom(2 ** 31 - 1, 100_061),
      ),
      step: fc.oneof(fc.nat(50), value),
      loss: value,
      accuracy: value,
      time: value,
    }),
    { minLength: 1, maxLength: 6 },
  );
  // Sensible stretches that start anywhere (so they skip ahead, repeat, or fill what is missing).
  const stretch = fc
    .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 6 }))
    .map(([from, n]) =>
      Array.from({ length: n }, (_, i) => ({
        seq: from + i,
        step: from + i,
        loss: 1 / (from + i),
        accuracy: 50,
        time: Date.now(),
      })),
    );
  const message = fc.oneof({ arbitrary: stretch, weight: 3 }, { arbitrary: hostile, weight: 1 });
  let accepted = 0;
  let lastAck = 0;
  await fc.assert(
    fc.asyncProperty(message, async (events) => {
      const payload = {
        runId,
        events: events.map((e) => ({
          runId,
          seq: e.seq,
          type: 'metrics:batch',
          point: {
            step: e.step,
            epoch: 1,
            batch: 0,
            loss: e.loss,
            accuracy: e.accuracy,
            learningRate: 0.01,
            samplesPerSec: 1,
            time: e.time,
          },
        })),
      };
      const r = await trainer.timeout(10_000).emitWithAck('trainer:events', payload);
      assert.ok(
        isEnvelopeFailure(r) ||
          (typeof r === 'object' && r !== null && (r as { ok: unknown }).ok === true),
        JSON.stringify(r),
      );
      if (isEnvelopeFailure(r)) {
        // A hostile trainer's input is refused as invalid; INTERNAL would be a fault of the hub.
        assert.equal(r.error, 'INVALID', `${r.error}: ${r.message}`);
        return;
      }
      const stored = (r as { data: { storedSeq: number } }).data.storedSeq;
      accepted++;
      // Every seq up to the acknowledged one is stored, once.
      const seqs = (
        await hub.db.prisma.batchMetric.findMany({
          where: { runId, seq: { lte: stored } },
          select: { seq: true },
          orderBy: { seq: 'asc' },
        })
      ).map((p) => p.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: stored }, (_, i) => i + 1),
        `acknowledged ${stored}`,
      );
      assert.ok(stored >= lastAck, 'acknowledgements never move back');
      lastAck = stored;
    }),
    { numRuns: RUNS },
  );
  assert.ok(
    accepted > 10 && lastAck > 5,
    `${accepted} messages acknowledged, up to seq ${lastAck}`,
  );
  const run = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  assert.equal(run.lastSeq, lastAck, "the run's stored seq is the acknowledged one");
  assert.equal((await fetch(`${hub.url}/api/health`)).status, 200, 'the hub keeps serving');
});

interface HostileRequest {
  /** What the request is: the first three must be refused, the last two let through. */
  kind: 'foreign host' | 'foreign origin' | 'cross-site fetch' | 'own page' | 'script';
  ownHost: string;
  foreignHost: string;
  foreignOrigin: string;
  fetchSite: 'cross-site' | 'same-site';
  method: string;
  path: string;
  contentType: string;
}

test("hostile origins: any request or handshake from another site, or naming another host, is refused and changes nothing; the hub's own pages and scripts get through", async (t) => {
  const hub = await startHub({ publicUrls: ['https://livetrain.example.com'] });
  t.after(() => hub.close());
  const port = new URL(hub.url).port;
  const own = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'livetrain.example.com'];
  const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
  // Names that are not this hub's: other sites, look-alikes of its own, rebinding names.
  const foreignHost = fc.oneof(
    label.map((l) => `${l}.evil.example`),
    fc.constantFrom(
      `localhost.evil.example:${port}`,
      `127.0.0.1.nip.io:${port}`,
      `livetrain.example.com.evil.example`,
      `evil-livetrain.example.com`,
      `10.0.0.7:${port}`,
      `0.0.0.0:${port}`,
      `[::2]:${port}`,
    ),
    fc.tuple(label, fc.integer({ min: 1, max: 65535 })).map(([l, p]) => `${l}:${p}`),
  );
  // Origins of other sites' pages, or of none that a page may claim (sandboxed frames: "null").
  const foreignOrigin = fc.oneof(
    fc.tuple(fc.constantFrom('http', 'https'), label).map(([s, l]) => `${s}://${l}.evil.example`),
    fc.constantFrom(
      'null',
      `http://localhost.evil.example:${port}`,
      'https://livetrain.example.com.evil.example',
      `http://127.0.0.1:${Number(port) === 65535 ? 1 : Number(port) + 1}`,
      'not a url',
    ),
  );
  const request: fc.Arbitrary<HostileRequest> = fc.record({
    kind: fc.constantFrom(
      'foreign host',
      'foreign origin',
      'cross-site fetch',
      'own page',
      'script',
    ),
    ownHost: fc.constantFrom(...own),
    foreignHost,
    foreignOrigin,
    fetchSite: fc.constantFrom('cross-site', 'same-site'),
    method: fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH'),
    path: fc.constantFrom(
      '/api/runs',
      '/api/runs/x/stop',
      '/api/runs/x/annotations',
      '/logout',
      '/api/runs/x',
    ),
    contentType: fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ),
  });
  const BODY = JSON.stringify({
    name: 'from the fuzzer',
    hyperparams: { epochs: 1, trainLimit: 64, testLimit: 32 },
  });
  // http.request, not fetch: fetch does not let a caller set Host, Origin or Sec-Fetch-Site.
  const send = (r: { method: string; path: string; headers: Record<string, string> }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: r.method,
          path: r.path,
          headers: { ...r.headers, 'content-length': String(Buffer.byteLength(BODY)) },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(BODY);
    });
  const headersOf = (r: HostileRequest): Record<string, string> => {
    const ownPage = r.ownHost.startsWith('livetrain.example.com')
      ? 'https://livetrain.example.com'
      : `http://${r.ownHost}`;
    switch (r.kind) {
      case 'foreign host':
        return { host: r.foreignHost, 'content-type': r.contentType };
      case 'foreign origin':
        return { host: r.ownHost, origin: r.foreignOrigin, 'content-type': r.contentType };
      case 'cross-site fetch':
        return { host: r.ownHost, 'sec-fetch-site': r.fetchSite, 'content-type': r.contentType };
      case 'own page':
        return {
          host: r.ownHost,
          origin: ownPage,
          'sec-fetch-site': 'same-origin',
          'content-type': r.contentType,
        };
      case 'script':
        return { host: r.ownHost, 'content-type': r.contentType };
    }
  };
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const refused =
        r.kind === 'foreign host' || r.kind === 'foreign origin' || r.kind === 'cross-site fetch';
      const before = refused ? await counts(hub) : null;
      const answer = await send({ method: r.method, path: r.path, headers: headersOf(r) });
      assert.notEqual(answer.status, 500, `no internal error: ${answer.body}`);
      if (refused) {
        assert.equal(
          answer.status,
          403,
          `${r.kind}: ${JSON.stringify(headersOf(r))} → ${answer.status} ${answer.body}`,
        );
        assert.equal((JSON.parse(answer.body) as { error: string }).error, 'FORBIDDEN');
        assert.deepEqual(await counts(hub), before, 'a refused request changes nothing');
      } else {
        assert.notEqual(
          answer.status,
          403,
          `${r.kind}: ${JSON.stringify(headersOf(r))} → ${answer.body}`,
        );
      }
    }),
    { numRuns: Math.min(RUNS, 120) },
  );

  // Handshakes on both namespaces: the same categories, the same verdicts.
  const handshake = (namespace: string, headers: Record<string, string>) =>
    new Promise<string>((resolve) => {
      const { host, origin } = headers;
      const s = io(new URL(namespace, hub.url).toString(), {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        auth:
          namespace === '/'
            ? { protocolVersion: PROTOCOL_VERSION }
            : trainerAuth(`fuzz-${Math.random().toString(36).slice(2, 10)}`),
        extraHeaders: {
          ...(host ? { host } : {}),
          ...(origin ? { origin } : {}),
          ...(headers['sec-fetch-site'] ? { 'sec-fetch-site': headers['sec-fetch-site'] } : {}),
        },
      });
      s.once('connect', () => (s.close(), resolve('connected')));
      s.once('connect_error', () => (s.close(), resolve('refused')));
    });
  await fc.assert(
    fc.asyncProperty(request, fc.constantFrom('/', TRAINER_NAMESPACE), async (r, namespace) => {
      const refused =
        r.kind === 'foreign host' || r.kind === 'foreign origin' || r.kind === 'cross-site fetch';
      assert.equal(
        await handshake(namespace, headersOf(r)),
        refused ? 'refused' : 'connected',
        `${r.kind} on ${namespace}: ${JSON.stringify(headersOf(r))}`,
      );
    }),
    { numRuns: Math.min(RUNS, 60) },
  );
});
