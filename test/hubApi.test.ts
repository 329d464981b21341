/**
 * The HTTP API and tokens, and the whole flow on PostgreSQL: a real hub, a real trainer
 * process, real clients, over SQLite and over the machine's PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ConfigError, readConfig } from '../server/config';
import { PROTOCOL_VERSION, TRAINER_NAMESPACE, type WireEpoch } from '../server/protocol';
import { postgresDatabases } from './helpers/db';
import {
  connectBrowser,
  handshakeOutcome,
  pointsSeen,
  SMALL,
  startHub,
  startTrainer,
  trainerAuth,
  type TestHub,
} from './helpers/hub';

const pg = postgresDatabases();
after(() => pg.dropAll());

async function api<T = Record<string, unknown>>(
  hub: TestHub,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(hub.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: (() => {
      try {
        return JSON.parse(text) as { ok: boolean; data: T; error?: string };
      } catch {
        return null;
      }
    })(),
  };
}

/** Start over HTTP, watch over Socket.IO, annotate, read everything back over HTTP. */
async function fullFlow(hub: TestHub): Promise<void> {
  const trainer = await startTrainer(hub.url, { id: `flow-${hub.db.provider}` });
  const ada = await connectBrowser(hub.url, 'Ada');
  try {
    const health = await api(hub, 'GET', '/api/health');
    assert.equal(health.status, 200);
    assert.equal(health.json?.data.database, hub.db.provider);
    assert.equal(health.json?.data.protocolVersion, PROTOCOL_VERSION);

    const created = await api<{
      run: { id: string; status: string; hyperparams: { learningRate: number; epochs: number } };
    }>(hub, 'POST', '/api/runs', { name: 'over http', hyperparams: { ...SMALL, epochs: 2 } });
    assert.equal(created.status, 201, created.text);
    const runId = created.json!.data.run.id;
    assert.equal(
      created.json!.data.run.hyperparams.learningRate,
      0.01,
      'the tutorial defaults fill the rest',
    );
    const watch = await ada.call('run:watch', { runId });
    assert.ok(watch.ok);
    await ada.waitFor('run:status', (p) => p.runId === runId && p.status === 'completed', 60_000);
    const note = await api(hub, 'POST', `/api/runs/${runId}/annotations`, {
      step: 7,
      text: 'from a script',
      author: 'ci',
    });
    assert.equal(note.status, 201);
    await ada.waitFor(
      'annotation:added',
      (p) => p.annotation.text === 'from a script' && p.annotation.authorName === 'ci',
    );

    const spark = await api<{ sparklines: Record<string, number[]> }>(
      hub,
      'GET',
      `/api/runs/sparklines?ids=${runId},nope&points=5`,
    );
    assert.equal(spark.status, 200, spark.text);
    assert.equal(spark.json!.data.sparklines[runId].length, 5, 'five step buckets');
    assert.ok(spark.json!.data.sparklines[runId].every((l) => l > 0));
    assert.equal(spark.json!.data.sparklines.nope, undefined);
    const list = await api<{ runs: Array<{ id: string; status: string }> }>(
      hub,
      'GET',
      '/api/runs',
    );
    assert.equal(list.json!.data.runs.find((r) => r.id === runId)?.status, 'completed');
    const one = await api<{
      run: { totalSteps: number; finalTestAccuracy: number };
      epochs: Array<
        Pick<
          WireEpoch,
          | 'epoch'
          | 'confusion'
          | 'step'
          | 'trainLoss'
          | 'trainAccuracy'
          | 'testLoss'
          | 'testAccuracy'
        >
      >;
      annotations: unknown[];
    }>(hub, 'GET', `/api/runs/${runId}`);
    assert.equal(one.json!.data.epochs.length, 2);
    assert.equal(
      one.json!.data.epochs[1].confusion.flat().reduce((a, b) => a + b, 0),
      SMALL.testLimit,
      'confusion counts every test digit',
    );
    assert.ok(one.json!.data.run.finalTestAccuracy > 0);

    const metrics = await api<{ points: Array<{ seq: number; step: number }> }>(
      hub,
      'GET',
      `/api/runs/${runId}/metrics?afterSeq=0`,
    );
    const points = metrics.json!.data.points;
    assert.equal(points.length, one.json!.data.run.totalSteps);
    assert.deepEqual(pointsSeen(ada, runId, watch.data), points, 'HTTP and the live view agree');
    const later = await api<{ points: Array<{ seq: number }> }>(
      hub,
      'GET',
      `/api/runs/${runId}/metrics?afterSeq=${points[5].seq}`,
    );
    assert.deepEqual(
      later.json!.data.points.map((p) => p.seq),
      points.slice(6).map((p) => p.seq),
    );

    const wrong = await api<{
      epoch: number;
      items: Array<{ label: number; predicted: number; probabilities: number[] }>;
    }>(hub, 'GET', `/api/runs/${runId}/misclassified?epoch=2`);
    assert.equal(wrong.json!.data.epoch, 2);
    const confusion = one.json!.data.epochs[1].confusion;
    const offDiagonal = confusion
      .flatMap((row, i) => row.filter((_, j) => j !== i))
      .reduce((a, b) => a + b, 0);
    assert.equal(
      wrong.json!.data.items.length,
      offDiagonal,
      'one misclassified digit per off-diagonal count',
    );
    assert.ok(
      wrong.json!.data.items.every((d) => d.label !== d.predicted && d.probabilities.length === 10),
    );

    const csv = await api(hub, 'GET', `/api/runs/${runId}/export?format=csv`);
    assert.equal(csv.status, 200);
    assert.match(
      csv.headers.get('content-disposition') ?? '',
      /attachment; filename="livetrain-over_http-.*-batches\.csv"/,
    );
    const lines = csv.text.trim().split('\n');
    // Units in the names, batches numbered as the page numbers them (from 1), ISO time beside ms.
    assert.equal(
      lines[0],
      'seq,step,epoch,batch,loss,accuracy_percent,learning_rate,samples_per_second,time_ms,time_iso',
    );
    assert.equal(lines.length, points.length + 1);
    const first = lines[1].split(',');
    const p0 = points[0] as unknown as { loss: number; batch: number; time: number };
    assert.equal(Number(first[4]), p0.loss);
    assert.equal(Number(first[3]), p0.batch + 1);
    assert.equal(first[9], new Date(p0.time).toISOString());
    const perEpoch = await api(hub, 'GET', `/api/runs/${runId}/export?format=csv&table=epochs`);
    assert.match(perEpoch.headers.get('content-disposition') ?? '', /-epochs\.csv"/);
    const epochLines = perEpoch.text.trim().split('\n');
    assert.equal(
      epochLines[0],
      'epoch,step,train_loss,train_accuracy_percent,test_loss,test_accuracy_percent,samples_per_second,train_seconds,eval_seconds,time_ms,time_iso',
    );
    const stored = one.json!.data.epochs;
    assert.equal(epochLines.length, stored.length + 1);
    assert.deepEqual(
      epochLines.slice(1).map((l) => l.split(',').slice(0, 6).map(Number)),
      stored.map((e) => [
        e.epoch,
        e.step,
        e.trainLoss,
        e.trainAccuracy,
        e.testLoss,
        e.testAccuracy,
      ]),
    );
    const badTable = await api(hub, 'GET', `/api/runs/${runId}/export?format=csv&table=everything`);
    assert.equal(badTable.status, 400);
    const json = await api(hub, 'GET', `/api/runs/${runId}/export?format=json`);
    const full = JSON.parse(json.text) as {
      run: { id: string };
      epochs: unknown[];
      batches: unknown[];
      annotations: Array<{ text: string }>;
    };
    assert.equal(full.run.id, runId);
    assert.equal(full.batches.length, points.length);
    assert.ok(full.annotations.some((a) => a.text === 'from a script'));

    // Test digits by index, and a prediction from the run's final checkpoint.
    const digits = await api<{ digits: Array<{ index: number; label: number; pixels: string }> }>(
      hub,
      'GET',
      '/api/digits?split=test&indices=0,1,2',
    );
    assert.equal(digits.status, 200, digits.text);
    assert.deepEqual(
      digits.json!.data.digits.map((d) => [d.index, d.label]),
      [
        [0, 7],
        [1, 2],
        [2, 1],
      ],
      'MNIST test digits 0..2 are 7, 2, 1',
    );
    const pixels = [...Buffer.from(digits.json!.data.digits[0].pixels, 'base64')];
    assert.equal(pixels.length, 784);
    const predicted = await api<{
      checkpoint: { step: number };
      predictions: Array<{ predicted: number; probabilities: number[] }>;
    }>(hub, 'POST', `/api/runs/${runId}/predict`, { pixels });
    assert.equal(predicted.status, 200, predicted.text);
    assert.equal(
      predicted.json!.data.checkpoint.step,
      one.json!.data.run.totalSteps,
      'the final checkpoint',
    );
    const probs = predicted.json!.data.predictions[0].probabilities;
    assert.equal(probs.length, 10);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.equal(predicted.json!.data.predictions[0].predicted, probs.indexOf(Math.max(...probs)));
    assert.equal(
      (await api(hub, 'POST', `/api/runs/${runId}/predict`, { pixels: pixels.slice(1) })).status,
      400,
    );
    assert.equal(
      (await api(hub, 'POST', `/api/runs/${runId}/predict`, { pixels: pixels.map(() => 300) }))
        .status,
      400,
    );
    assert.equal((await api(hub, 'GET', '/api/digits?indices=10000')).status, 400);
    assert.equal((await api(hub, 'GET', '/api/digits?indices=1;drop')).status, 400);
    const fresh = await api<{ run: { id: string } }>(hub, 'POST', '/api/runs', {
      hyperparams: { epochs: 1 },
    });
    const early = await api(hub, 'POST', `/api/runs/${fresh.json!.data.run.id}/predict`, {
      pixels,
    });
    assert.equal(early.status, 409, 'no checkpoint yet');
    assert.equal((await api(hub, 'POST', `/api/runs/${fresh.json!.data.run.id}/stop`)).status, 200);

    const stop = await api(hub, 'POST', `/api/runs/${runId}/stop`);
    assert.equal(stop.status, 409, 'a completed run cannot be stopped');
  } finally {
    ada.close();
    await trainer.stop();
  }
}

test('HTTP API end to end on SQLite', async (t) => {
  const hub = await startHub();
  t.after(() => hub.close());
  await fullFlow(hub);
});

test('the same flow on PostgreSQL', async (t) => {
  const url = await pg.create(t);
  if (!url) return;
  const hub = await startHub({ databaseUrl: url });
  t.after(() => hub.close());
  assert.equal(hub.db.provider, 'postgresql');
  await fullFlow(hub);
});

test('with tokens: browsers, API clients and trainers must present theirs', async (t) => {
  const hub = await startHub({ browserToken: 'team-secret-1', trainerToken: 'trainer-secret-1' });
  t.after(() => hub.close());
  await assert.rejects(
    connectBrowser(hub.url, 'Mallory'),
    (e: Error & { data?: { error: string } }) => e.data?.error === 'UNAUTHORIZED',
  );
  await assert.rejects(
    connectBrowser(hub.url, 'Mallory', { token: 'team-secret-2' }),
    (e: Error & { data?: { error: string } }) => e.data?.error === 'UNAUTHORIZED',
  );
  const ada = await connectBrowser(hub.url, 'Ada', { token: 'team-secret-1' });
  ada.close();

  assert.equal((await api(hub, 'GET', '/api/health')).status, 200, 'health is public');
  const denied = await api(hub, 'GET', '/api/runs');
  assert.equal(denied.status, 401);
  assert.equal(denied.json?.error, 'UNAUTHORIZED');
  assert.equal((await api(hub, 'POST', '/api/runs', {})).status, 401);
  assert.equal(await hub.db.prisma.run.count(), 0);
  assert.equal(
    (await api(hub, 'GET', '/api/runs', undefined, { authorization: 'Bearer team-secret-1' }))
      .status,
    200,
  );

  // Pages send people to the login form; the right token sets a cookie that opens everything.
  const page = await fetch(`${hub.url}/runs/x`, { redirect: 'manual' });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/login?next=%2Fruns%2Fx');
  const form = await fetch(`${hub.url}/login`);
  assert.match(await form.text(), /name="token"/);
  const wrong = await fetch(`${hub.url}/login`, {
    method: 'POST',
    body: 'token=nope&next=/',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  assert.equal(wrong.status, 401);
  const right = await fetch(`${hub.url}/login`, {
    method: 'POST',
    body: 'token=team-secret-1&next=/runs/x',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  assert.equal(right.status, 303);
  assert.equal(right.headers.get('location'), '/runs/x');
  const cookie = right.headers.get('set-cookie')!.split(';')[0];
  assert.match(right.headers.get('set-cookie')!, /HttpOnly/);
  assert.equal((await api(hub, 'GET', '/api/runs', undefined, { cookie })).status, 200);

  const connectTrainer = (token?: string) =>
    handshakeOutcome(hub.url, TRAINER_NAMESPACE, trainerAuth('gpu-box', { token }));
  assert.equal(await connectTrainer(), 'UNAUTHORIZED');
  assert.equal(
    await connectTrainer('team-secret-1'),
    'UNAUTHORIZED',
    'the team token is not the trainer token',
  );
  assert.equal(await connectTrainer('trainer-secret-1'), 'connected');
});

test('the hub refuses to listen beyond loopback without a team token', () => {
  assert.throws(
    () => readConfig(['--host', '0.0.0.0'], {}),
    (e: Error) => e instanceof ConfigError && /LIVETRAIN_TOKEN/.test(e.message),
  );
  // A team token requires a trainer token (and the other way round), on loopback too.
  for (const host of ['0.0.0.0', '127.0.0.1']) {
    assert.throws(
      () => readConfig(['--host', host], { LIVETRAIN_TOKEN: 'long-enough-token' }),
      (e: Error) => e instanceof ConfigError && /LIVETRAIN_TRAINER_TOKEN is not/.test(e.message),
      host,
    );
    assert.throws(
      () => readConfig(['--host', host], { LIVETRAIN_TRAINER_TOKEN: 'long-enough-token' }),
      (e: Error) =>
        e instanceof ConfigError &&
        /LIVETRAIN_TOKEN is not|without LIVETRAIN_TOKEN/.test(e.message),
      host,
    );
  }
  const open = readConfig(['--host', '0.0.0.0'], {
    LIVETRAIN_TOKEN: 'long-enough-token',
    LIVETRAIN_TRAINER_TOKEN: 'trainer-token-1',
  });
  assert.deepEqual(
    [open.browserToken, open.trainerToken, open.localTrainerToken],
    ['long-enough-token', 'trainer-token-1', 'trainer-token-1'],
  );
  // Bound to one address, the hub answers to it; --public-url adds the names people use.
  assert.deepEqual(
    readConfig(['--host', '10.0.0.5', '--port', '3001'], {
      LIVETRAIN_TOKEN: 'long-enough-token',
      LIVETRAIN_TRAINER_TOKEN: 'trainer-token-1',
    }).publicUrls,
    ['http://10.0.0.5:3001'],
  );
  assert.deepEqual(
    readConfig(
      ['--public-url', 'https://livetrain.example.com', '--public-url', 'http://gpu-box:3000'],
      {},
    ).publicUrls,
    ['https://livetrain.example.com', 'http://gpu-box:3000'],
  );
  assert.deepEqual(
    readConfig([], { LIVETRAIN_PUBLIC_URL: 'https://a.example, https://b.example' }).publicUrls,
    ['https://a.example', 'https://b.example'],
  );
  assert.throws(
    () => readConfig(['--public-url', 'livetrain.example.com'], {}),
    (e: Error) => e instanceof ConfigError && /http:\/\/ or https:\/\//.test(e.message),
  );
  assert.throws(
    () => readConfig(['--public-url', 'https://livetrain.example.com/app'], {}),
    (e: Error) => e instanceof ConfigError && /without a path/.test(e.message),
  );
  const local = readConfig([], {});
  assert.deepEqual(
    [local.host, local.port, local.trainerToken, local.localTrainer],
    ['127.0.0.1', 3000, null, true],
  );
  assert.equal(
    readConfig(['--no-local-trainer', '--port', '4000'], { DATABASE_URL: 'postgres://x@y/z' })
      .databaseUrl,
    'postgres://x@y/z',
  );
  assert.throws(() => readConfig(['--port', 'abc'], {}), ConfigError);
  assert.throws(() => readConfig(['--bogus'], {}), ConfigError);
});

test('Redis settings: REDIS_URL or --redis-url (redis:// or rediss://), a key prefix, nothing by default', () => {
  assert.deepEqual(
    [readConfig([], {}).redisUrl, readConfig([], {}).redisPrefix],
    [null, 'livetrain'],
  );
  const shared = readConfig(['--redis-prefix', 'team-a'], { REDIS_URL: 'redis://cache:6379' });
  assert.deepEqual([shared.redisUrl, shared.redisPrefix], ['redis://cache:6379', 'team-a']);
  assert.equal(
    readConfig(['--redis-url', 'rediss://:secret@cache:6380'], {}).redisUrl,
    'rediss://:secret@cache:6380',
  );
  assert.throws(
    () => readConfig(['--redis-url', 'http://cache'], {}),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message ===
        '--redis-url (or REDIS_URL): must be a redis:// or rediss:// URL, got "http://cache"',
  );
  assert.throws(() => readConfig(['--redis-prefix', 'a b'], {}), ConfigError);
});
