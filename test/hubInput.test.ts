/**
 * Bad input at every door: malformed payloads on every browser event and HTTP route, a wrong
 * protocol version, oversize payloads, unknown events, a trainer writing a run it does not
 * hold. Each gets the error envelope and changes nothing. Also: replays are stored once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { MAX_SEQ_AHEAD, PROTOCOL_VERSION, type BrowserCommand } from '../server/protocol';
import { hyperparamsSchema } from '../server/trainer/config';
import type { TrainerEvent } from '../server/trainer/events';
import { dbState } from './helpers/dbState';
import {
  batchPointEvent as point,
  connectBrowser,
  eventually,
  fakeTrainer,
  runOnFakeTrainer,
  startHub,
  trainerAuth,
  type TestBrowser,
  type TestHub,
  framePoints,
} from './helpers/hub';

/** Row counts (kept as they were); `dbState` compares the rows themselves. */
async function counts(hub: TestHub) {
  await hub.hub.flush();
  const db = hub.db.prisma;
  return {
    runs: await db.run.count(),
    annotations: await db.annotation.count(),
    edits: await db.annotationEdit.count(),
    participants: await db.participant.count(),
    batches: await db.batchMetric.count(),
  };
}

describe('bad input', () => {
  let hub: TestHub;
  let ada: TestBrowser;
  let runId: string;

  before(async () => {
    hub = await startHub({ annotationsPerMinute: 5 });
    ada = await connectBrowser(hub.url, 'Ada');
    const started = await ada.call('run:start', { name: 'target', hyperparams: { epochs: 1 } });
    assert.ok(started.ok);
    runId = started.data.run.id;
  });
  after(async () => {
    ada?.close();
    await hub?.close();
  });

  test('every browser event refuses malformed payloads with the error envelope and changes nothing', async () => {
    const huge = 'x'.repeat(70_000);
    // Someone else's note, which Ada may neither edit nor delete.
    const cy = await connectBrowser(hub.url, 'Cy');
    const cysNote = await cy.call('annotation:add', { runId, step: 2, text: 'Cy was here' });
    cy.close();
    assert.ok(cysNote.ok);
    const noteId = cysNote.data.annotation.id;
    const cases: Array<[BrowserCommand, unknown, string]> = [
      ['hello', {}, 'INVALID'],
      ['hello', { name: '' }, 'INVALID'],
      ['hello', { name: 'x'.repeat(65) }, 'INVALID'],
      ['hello', 'Ada', 'INVALID'],
      ['hello', { name: 'Ada', colour: 'red' }, 'INVALID'],
      ['hello', { name: 'Ada', participantId: '../../etc' }, 'INVALID'],
      ['run:watch', {}, 'INVALID'],
      ['run:watch', { runId: 'no-such-run' }, 'NOT_FOUND'],
      ['run:watch', { runId: 'x', afterSeq: -1 }, 'INVALID'],
      ['run:unwatch', { runId: 5 }, 'INVALID'],
      ['run:start', { hyperparams: { epochs: 0 } }, 'INVALID'],
      ['run:start', { hyperparams: { batchSize: 1e9 } }, 'INVALID'],
      ['run:start', { hyperparams: { learningRate: 'fast' } }, 'INVALID'],
      ['run:start', { hyperparams: { learningRate: 1e6 } }, 'INVALID'],
      ['run:start', { hyperparams: { optimizer: 'rmsprop' } }, 'INVALID'],
      ['run:start', { hyperparams: { trainLimit: -5 } }, 'INVALID'],
      ['run:start', { hyperparams: { momentum: 1 } }, 'INVALID'],
      ['run:start', { name: '', hyperparams: {} }, 'INVALID'],
      ['run:start', null, 'INVALID'],
      ['run:stop', {}, 'INVALID'],
      ['run:stop', { runId: 'no-such-run' }, 'NOT_FOUND'],
      ['run:pause', { runId: ['a'] }, 'INVALID'],
      ['run:pause', { runId: 'no-such-run' }, 'NOT_FOUND'],
      ['run:resume', {}, 'INVALID'],
      ['run:set-lr', { runId: 'x', learningRate: 0 }, 'INVALID'],
      ['run:set-lr', { runId: 'x', learningRate: Number.NaN }, 'INVALID'],
      ['run:set-lr', { runId: 'x' }, 'INVALID'],
      ['annotation:add', { runId: 'x', step: -1, text: 'a' }, 'INVALID'],
      ['annotation:add', { runId: 'x', step: 1, text: '   ' }, 'INVALID'],
      ['annotation:add', { runId: 'x', step: 1, text: 'y'.repeat(2001) }, 'INVALID'],
      ['annotation:add', { runId: 'no-such-run', step: 1, text: 'a' }, 'NOT_FOUND'],
      ['annotation:add', { runId: 'x', step: 1, text: huge }, 'TOO_LARGE'],
      ['annotation:edit', { id: 'a', text: 'b' }, 'INVALID'],
      ['annotation:edit', { id: 999_999, text: 'b' }, 'NOT_FOUND'],
      ['annotation:delete', { id: -1 }, 'INVALID'],
      ['annotation:delete', { id: 999_999 }, 'NOT_FOUND'],
      // Well-formed but refused: the queued run's status and learning rate, Cy's note.
      ['run:pause', { runId }, 'CONFLICT'],
      ['run:resume', { runId }, 'CONFLICT'],
      ['run:set-lr', { runId, learningRate: 0.5 }, 'CONFLICT'],
      ['annotation:edit', { id: noteId, text: 'Ada rewrote this' }, 'FORBIDDEN'],
      ['annotation:delete', { id: noteId }, 'FORBIDDEN'],
    ];
    const before = await counts(hub);
    const beforeRows = await dbState(hub);
    for (const [event, payload, code] of cases) {
      const result = await ada.call(event, payload);
      assert.equal(result.ok, false, `${event} ${JSON.stringify(payload).slice(0, 80)} must fail`);
      if (result.ok) continue;
      assert.equal(
        result.error,
        code,
        `${event} ${JSON.stringify(payload).slice(0, 80)}: ${result.message}`,
      );
      assert.equal(typeof result.message, 'string');
      if (code === 'INVALID' && event !== 'hello')
        assert.ok(result.details, `${event}: field errors in details`);
    }
    const invalidStart = await ada.call('run:start', { hyperparams: { epochs: 0, batchSize: 0 } });
    assert.ok(!invalidStart.ok);
    assert.deepEqual(Object.keys(invalidStart.details as object).sort(), [
      'hyperparams.batchSize',
      'hyperparams.epochs',
    ]);
    assert.deepEqual(await counts(hub), before, 'nothing changed');
    assert.deepEqual(await dbState(hub), beforeRows, 'nothing changed, row for row');
    // An unknown event is ignored and the connection keeps working.
    (ada.socket as unknown as { emit(e: string, p: unknown): void }).emit('drop:tables', {
      all: true,
    });
    assert.ok((await ada.call('run:watch', { runId })).ok);
  });

  test('commands before hello are refused; a wrong protocol version or handshake is refused', async () => {
    const anon = await connectBrowser(hub.url, null);
    const result = await anon.call('run:start', { hyperparams: {} });
    anon.close();
    assert.equal(result.ok ? 'ok' : result.error, 'NO_HELLO');
    await assert.rejects(
      connectBrowser(hub.url, 'Old', { protocolVersion: PROTOCOL_VERSION + 1 }),
      (e: Error & { data?: { error: string } }) => e.data?.error === 'UNSUPPORTED_VERSION',
    );
    const noAuth = io(hub.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    const error = await new Promise<Error & { data?: { error: string } }>((resolve) =>
      noAuth.once('connect_error', resolve),
    );
    noAuth.close();
    assert.equal(error.data?.error, 'INVALID');
  });

  test('a message over the size limit closes that connection only; the hub keeps serving', async () => {
    const small = await startHub({ maxMessageBytes: 256 * 1024 });
    try {
      const greedy = await connectBrowser(small.url, 'Greedy');
      const other = await connectBrowser(small.url, 'Other');
      const gone = new Promise<string>((resolve) =>
        greedy.socket.once('disconnect', (reason) => resolve(reason)),
      );
      greedy.socket.emit('hello', { name: 'x'.repeat(400 * 1024) } as never, (() => {}) as never);
      assert.equal(await gone, 'transport close');
      const still = await other.call('run:start', { hyperparams: { epochs: 1 } });
      assert.ok(still.ok, 'others are unaffected');
      other.close();
    } finally {
      await small.close();
    }
  });

  test('annotations are rate-limited per person', async () => {
    const bob = await connectBrowser(hub.url, 'Bob');
    const results = [];
    for (let i = 0; i < 7; i++)
      results.push(await bob.call('annotation:add', { runId, step: i, text: `note ${i}` }));
    bob.close();
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error)),
      ['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED'],
    );
    assert.equal(await hub.db.prisma.annotation.count({ where: { runId, authorName: 'Bob' } }), 5);
  });

  test('HTTP routes answer bad requests with the envelope and change nothing', async () => {
    const before = await counts(hub);
    const beforeRows = await dbState(hub);
    const call = async (
      method: string,
      path: string,
      body?: string,
      headers: Record<string, string> = {},
    ) => {
      const res = await fetch(hub.url + path, {
        method,
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
      return {
        status: res.status,
        body: (await res.json()) as {
          ok: boolean;
          error?: string;
          details?: Record<string, string>;
        },
      };
    };
    const bad = await call(
      'POST',
      '/api/runs',
      JSON.stringify({ hyperparams: { epochs: 0, learningRate: -1 } }),
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'INVALID');
    assert.deepEqual(Object.keys(bad.body.details!).sort(), [
      'hyperparams.epochs',
      'hyperparams.learningRate',
    ]);
    const expectations: Array<[string, string, string | undefined, number, string]> = [
      ['POST', '/api/runs', '{not json', 400, 'INVALID'],
      ['POST', '/api/runs', JSON.stringify({ name: 'x'.repeat(100_000) }), 413, 'TOO_LARGE'],
      ['PUT', '/api/runs', '{}', 400, 'INVALID'],
      ['GET', '/api/nothing', undefined, 404, 'NOT_FOUND'],
      ['GET', '/api/runs/no-such-run', undefined, 404, 'NOT_FOUND'],
      ['POST', '/api/runs/no-such-run/stop', undefined, 404, 'NOT_FOUND'],
      ['GET', `/api/runs/${runId}/export?format=xml`, undefined, 400, 'INVALID'],
      ['GET', `/api/runs/${runId}/misclassified?epoch=abc`, undefined, 400, 'INVALID'],
      ['GET', `/api/runs/${runId}/metrics?afterSeq=-1`, undefined, 400, 'INVALID'],
      [
        'POST',
        `/api/runs/${runId}/annotations`,
        JSON.stringify({ step: 1, text: '' }),
        400,
        'INVALID',
      ],
      [
        'POST',
        `/api/runs/${runId}/annotations`,
        JSON.stringify({ step: 'one', text: 'a' }),
        400,
        'INVALID',
      ],
      ['POST', `/api/runs/${runId}/set-lr`, JSON.stringify({ learningRate: 0 }), 400, 'INVALID'],
      ['POST', `/api/runs/${runId}/pause`, undefined, 409, 'CONFLICT'],
      ['POST', `/api/runs/${runId}/resume`, undefined, 409, 'CONFLICT'],
      ['POST', `/api/runs/${runId}/set-lr`, JSON.stringify({ learningRate: 0.5 }), 409, 'CONFLICT'],
    ];
    for (const [method, path, body, status, code] of expectations) {
      const res = await call(method, path, body);
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.error, code, `${method} ${path}`);
    }
    assert.deepEqual(await counts(hub), before, 'nothing changed');
    assert.deepEqual(await dbState(hub), beforeRows, 'nothing changed, row for row');
  });

  test('a trainer cannot write a run it does not hold, malformed events are refused, replays are stored once', async () => {
    await assert.rejects(
      fakeTrainer(hub.url, { protocolVersion: PROTOCOL_VERSION, trainerId: 'bad id!' }),
      (e: Error & { data?: { error: string } }) => e.data?.error === 'INVALID',
    );
    const intruder = await fakeTrainer(hub.url, trainerAuth('intruder'));
    const before = await counts(hub);
    // The run is assigned to the first trainer to connect: `intruder`. Take it and send events.
    const job = await new Promise<{ runId: string }>((resolve) =>
      intruder.on(
        'job:assign',
        (j: { runId: string }, ack: (r: unknown) => void) => (
          ack({ ok: true, data: { runId: j.runId } }),
          resolve(j)
        ),
      ),
    );
    assert.equal(job.runId, runId);
    const other = await fakeTrainer(hub.url, trainerAuth('other'));
    // The rows once both trainers are registered and the run is the intruder's.
    await eventually(
      () => hub.logs.some((l) => /trainer other connected/.test(l)),
      'trainer other registered',
    );
    const beforeRows = await dbState(hub);
    assert.equal(beforeRows.run.find((r) => r.id === runId)?.trainerId, 'intruder');
    const forbidden = await other
      .timeout(5000)
      .emitWithAck('trainer:events', { runId, events: [point(runId, 1, 1)] });
    assert.equal(forbidden.error, 'FORBIDDEN');
    const malformed = await intruder.timeout(5000).emitWithAck('trainer:events', {
      runId,
      events: [{ ...point(runId, 1, 1), point: { loss: 'NaN' } }],
    });
    assert.equal(malformed.error, 'INVALID');
    const empty = await intruder.timeout(5000).emitWithAck('trainer:events', { runId, events: [] });
    assert.equal(empty.error, 'INVALID');
    const badUpload = await intruder
      .timeout(5000)
      .emitWithAck('checkpoint:upload', { runId, seq: 1, data: 'not bytes' });
    assert.equal(badUpload.error, 'INVALID');
    intruder.emit('trainer:report', { kind: 'job:done', runId: 42 });
    // Events from the trainer that does not hold the run, and what it may not report.
    const notHeld = await other.timeout(5000).emitWithAck('trainer:events', {
      runId,
      events: [
        {
          runId,
          seq: 1,
          type: 'status',
          status: 'failed',
          step: 0,
          time: Date.now(),
          message: 'not mine',
        },
      ],
    });
    assert.equal(notHeld.error, 'FORBIDDEN');
    other.emit('trainer:report', { kind: 'job:failed', runId, message: 'not mine either' });
    // A round trip on each socket: the fire-and-forget reports have been handled.
    await intruder.timeout(5000).emitWithAck('trainer:events', null);
    await other.timeout(5000).emitWithAck('trainer:events', null);
    assert.deepEqual(await counts(hub), before, 'nothing stored from refused messages');
    assert.deepEqual(
      await dbState(hub),
      beforeRows,
      'nothing changed from refused messages, row for row',
    );

    // Events 1..6, then a replay of 4..9 (as after a reconnect): stored once each, in order.
    const started: TrainerEvent = {
      runId,
      seq: 1,
      type: 'run:started',
      hyperparams: hyperparamsSchema.parse({}),
      backend: { name: 'wasm', device: 'test', host: 'test-host' },
      trainSize: 60_000,
      testSize: 10_000,
      batchesPerEpoch: 1875,
      totalSteps: 1875,
      startStep: 0,
      parameterCount: 21_840,
      time: Date.now(),
    };
    const first = await intruder.timeout(5000).emitWithAck('trainer:events', {
      runId,
      events: [started, ...[2, 3, 4, 5, 6].map((s) => point(runId, s, s - 1))],
    });
    assert.deepEqual(first, { ok: true, data: { storedSeq: 6 } });
    const replay = await intruder.timeout(5000).emitWithAck('trainer:events', {
      runId,
      events: [4, 5, 6, 7, 8, 9].map((s) => point(runId, s, s - 1)),
    });
    assert.deepEqual(replay, { ok: true, data: { storedSeq: 9 } });
    const again = await intruder
      .timeout(5000)
      .emitWithAck('trainer:events', { runId, events: [8, 9].map((s) => point(runId, s, s - 1)) });
    assert.deepEqual(again, { ok: true, data: { storedSeq: 9 } });
    const stored = await hub.db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
    });
    assert.deepEqual(
      stored.map((p) => p.seq),
      [2, 3, 4, 5, 6, 7, 8, 9],
    );
    const row = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(row.lastSeq, 9);
    assert.equal(row.status, 'running');
    assert.equal(row.lastStep, 8);
    intruder.close();
    other.close();
    await eventually(
      async () =>
        (await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } })).status ===
        'interrupted',
      'interrupted after the grace period',
    );
  });
});

test('a trainer that skips seqs does not stall the live stream: the missing seqs are read back (nothing there) and the frames go on', async (t) => {
  const hub = await startHub();
  const ada = await connectBrowser(hub.url, 'Ada');
  const trainer = await fakeTrainer(hub.url, trainerAuth('skipper'));
  t.after(async () => {
    ada.close();
    trainer.close();
    await hub.close();
  });
  const assigned = new Promise<{ runId: string }>((resolve) =>
    trainer.on(
      'job:assign',
      (j: { runId: string }, ack: (r: unknown) => void) => (
        ack({ ok: true, data: { runId: j.runId } }),
        resolve(j)
      ),
    ),
  );
  const started = await ada.call('run:start', { hyperparams: { epochs: 1 } });
  assert.ok(started.ok);
  const runId = (await assigned).runId;
  const watched = await ada.call('run:watch', { runId });
  assert.ok(watched.ok);
  for (const seqs of [
    [1, 2, 3],
    [7, 8],
  ]) {
    const ack = await trainer
      .timeout(5000)
      .emitWithAck('trainer:events', { runId, events: seqs.map((s) => point(runId, s, s)) });
    assert.ok(ack.ok, JSON.stringify(ack));
  }
  const last = await ada.waitFor(
    'metrics:batch',
    (m) => m.runId === runId && m.toSeq === 8,
    10_000,
  );
  assert.deepEqual(
    framePoints(last).map((p) => p.seq),
    [7, 8],
  );
  // Frames chain 1..8 (seqs 4-6 covered without points), and the hub said what it saw.
  const seen = ada.received
    .filter((r) => r.event === 'metrics:batch')
    .map((r) => r.payload as { fromSeq: number; toSeq: number });
  seen.reduce((prev, f) => (assert.equal(f.fromSeq, prev + 1), f.toSeq), watched.data.lastSeq);
  assert.ok(hub.logs.some((l) => /events jump from seq 3 to 7/.test(l)));
});

test('a seq far past what the run accepted is refused, and so is one beyond an integer column; the run carries on', async (t) => {
  const { hub, trainer, runId } = await runOnFakeTrainer(t, 'jumper');
  const send = (seqs: number[]) =>
    trainer
      .timeout(5000)
      .emitWithAck('trainer:events', { runId, events: seqs.map((s) => point(runId, s, s)) });
  const first = await send([1, 2, 3]);
  assert.ok(first.ok && first.data.storedSeq === 3, JSON.stringify(first));
  const before = await dbState(hub);
  // What measured 284 → 877 MB and a stack overflow in the hub before it was refused.
  const far = await send([4, 3_000_000]);
  assert.ok(!far.ok && far.error === 'INVALID', JSON.stringify(far));
  assert.match(
    far.message,
    /seq 3000000 is more than 100,000 past the last seq run \S+ accepted \(3\): refused/,
  );
  const past = await send([3 + MAX_SEQ_AHEAD + 1]);
  assert.ok(!past.ok && past.error === 'INVALID');
  const huge = await send([2 ** 31]);
  assert.ok(!huge.ok && huge.error === 'INVALID', 'beyond a 32-bit seq column');
  assert.deepEqual(await dbState(hub), before, 'refused messages stored nothing, row for row');
  const next = await send([4, 5]);
  assert.ok(next.ok && next.data.storedSeq === 5, JSON.stringify(next));
});
