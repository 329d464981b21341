/**
 * Hostile input, generated (fast-check): thousands of random and malformed payloads on every
 * browser event, the trainer namespace and the HTTP routes, random handshakes and a flood of
 * annotations. The hub never crashes, answers each with the error envelope (or refuses the
 * connection), and rejected requests change nothing in the database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { browserSchemas, ERROR_CODES, PROTOCOL_VERSION, TRAINER_NAMESPACE, trainerEventsSchema, type BrowserCommand } from '../server/protocol';
import { assertOnlyAdded, dbState } from './helpers/dbState';
import { connectBrowser, eventually, fakeTrainer, handshakeOutcome, startHub, trainerAuth, type TestBrowser, type TestHub } from './helpers/hub';

const RUNS = Number(process.env.LIVETRAIN_FUZZ_RUNS ?? 150);

async function counts(hub: TestHub) {
  await hub.hub.flush();
  const db = hub.db.prisma;
  return [await db.run.count(), await db.annotation.count(), await db.annotationEdit.count(), await db.participant.count(), await db.batchMetric.count(), await db.checkpoint.count()];
}

const isEnvelopeFailure = (r: unknown): r is { ok: false; error: string; message: string } =>
  typeof r === 'object' && r !== null && (r as { ok?: unknown }).ok === false && ERROR_CODES.includes((r as { error: never }).error) && typeof (r as { message?: unknown }).message === 'string';

/** Anything JSON-like, biased towards objects with the protocol's own keys. */
const keys = ['name', 'runId', 'afterSeq', 'hyperparams', 'epochs', 'batchSize', 'learningRate', 'step', 'text', 'id', 'participantId', 'colour', 'reporting'];
const payload = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.anything({ maxDepth: 2 }), fc.double(), fc.integer(), fc.string({ maxLength: 3000 })), { maxKeys: 6 }),
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
          assert.ok(isEnvelopeFailure(result), `${event} ${JSON.stringify(p)?.slice(0, 120)} → ${JSON.stringify(result)}`);
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
    const routes = ['/api/runs', `/api/runs/${runId}/annotations`, `/api/runs/${runId}/set-lr`, `/api/runs/${runId}/predict`];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.oneof(fc.string({ maxLength: 200 }), payload.map((p) => JSON.stringify(p) ?? 'null')), async (route, body) => {
        const res = await fetch(hub.url + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const json = (await res.json()) as unknown;
        if (res.status < 300) return; // a random body that happens to be valid
        assert.ok(isEnvelopeFailure(json), `${route} ${body.slice(0, 80)} → ${res.status} ${JSON.stringify(json)}`);
      }),
      { numRuns: RUNS * 2 },
    );
    await fc.assert(
      fc.asyncProperty(fc.webPath(), fc.webQueryParameters(), async (path, query) => {
        const res = await fetch(`${hub.url}/api${path}?${query}`);
        const json = (await res.json()) as unknown;
        if (res.status >= 300) assert.ok(isEnvelopeFailure(json), `${path}?${query} → ${res.status}`);
      }),
      { numRuns: RUNS },
    );
    // Rejected bodies changed nothing; valid ones may have created runs or notes.
    const after = await counts(hub);
    assert.ok(after[4] === before[4] && after[5] === before[5], 'no metrics or checkpoints from the API');
    // Row for row: what was there is unchanged; only runs and notes a valid body asked for are new.
    const added = assertOnlyAdded(beforeRows, await dbState(hub), ['runs', 'annotations'], 'random HTTP requests');
    for (const run of added.runs) assert.deepEqual([run.status, run.createdBy, run.trainerId, run.lastSeq], ['queued', 'api', null, 0], `new run ${run.id}`);
    const newRuns = new Set(added.runs.map((r) => r.id));
    for (const a of added.annotations) {
      const startedByApi = a.kind === 'event' && newRuns.has(a.runId) && a.text === 'api started the run';
      assert.ok(a.kind === 'note' || startedByApi, `new annotation ${JSON.stringify(a)}`);
    }
    assert.equal((await fetch(`${hub.url}/api/health`)).status, 200);
  });

  test('random handshakes and protocol versions are refused with a reason', async () => {
    const refusal = (ns: string, auth: unknown) => handshakeOutcome(hub.url, ns, auth);
    await fc.assert(
      fc.asyncProperty(fc.integer().filter((v) => v !== PROTOCOL_VERSION), async (v) => {
        assert.equal(await refusal('/', { protocolVersion: v }), 'UNSUPPORTED_VERSION');
      }),
      { numRuns: 30 },
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 2 }), { maxKeys: 4 }), async (auth) => {
        fc.pre(typeof auth.protocolVersion !== 'number');
        assert.equal(await refusal('/', auth), 'INVALID');
        assert.equal(await refusal(TRAINER_NAMESPACE, auth), 'INVALID');
      }),
      { numRuns: 30 },
    );
  });

  test('a trainer peer sending garbage gets INVALID; a flood of notes is rate-limited; the hub keeps serving', async () => {
    const trainer = await fakeTrainer(hub.url, trainerAuth('fuzzer'));
    // The fuzzer takes the oldest queued run (the target); it answers the job so the rows hold still.
    trainer.on('job:assign', (j: { runId: string }, ack: (r: unknown) => void) => ack({ ok: true, data: { runId: j.runId } }));
    await eventually(async () => (await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } })).trainerId === 'fuzzer' && hub.logs.some((l) => /trainer fuzzer connected/.test(l)), 'the fuzzer holds the target run');
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
    assert.deepEqual(await dbState(hub), beforeRows, 'garbage from the trainer changed nothing, row for row');
    trainer.close();
    const adaId = (await hub.db.prisma.participant.findFirstOrThrow({ where: { name: 'Ada' } })).id;
    assert.deepEqual(await hub.db.prisma.annotation.findMany({ where: { authorId: adaId, kind: 'note' } }), [], 'Ada has written no note yet');
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => ada.call('annotation:add', { runId, step: i, text: `<script>alert(${i})</script>` })));
    const ok = flood.filter((r) => r.ok).length;
    assert.ok(ok <= 20 && flood.every((r) => r.ok || r.error === 'RATE_LIMITED'), `${ok} accepted`);
    // The setup allows 20 notes a minute: exactly 20 are accepted and stored, with their texts.
    assert.equal(ok, 20, 'exactly the allowed number accepted');
    const accepted = flood.flatMap((r) => (r.ok ? [[r.data.annotation.id, r.data.annotation.step, r.data.annotation.text]] : []));
    for (const [, step, text] of accepted) assert.equal(text, `<script>alert(${step})</script>`);
    const notes = await hub.db.prisma.annotation.findMany({ where: { runId, kind: 'note' } });
    assert.ok(notes.every((n) => n.text.startsWith('<script>')), 'text is stored as given (the page shows it as text)');
    const adas = await hub.db.prisma.annotation.findMany({ where: { authorId: adaId, kind: 'note' }, orderBy: { id: 'asc' } });
    assert.deepEqual(adas.map((n) => [n.id, n.step, n.text]), accepted.sort((a, b) => Number(a[0]) - Number(b[0])), 'the 20 accepted notes are stored, each with its text');
    assert.ok(adas.every((n) => n.runId === runId && n.kind === 'note' && n.authorName === 'Ada'));
    const afterCounts = await counts(hub);
    assert.deepEqual([afterCounts[0], afterCounts[4], afterCounts[5]], [before[0], before[4], before[5]]);
    assert.equal((await fetch(`${hub.url}/api/health`)).status, 200);
  });
});
