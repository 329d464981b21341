/**
 * The rules of a run that one field alone cannot tell, through a real hub: a digit limit
 * beyond the data set is refused at that field (as the CLI refuses it), whether the data set
 * is the bundled MNIST or a hub's own directory; the batch points a run may record are refused
 * at every field that causes them, with the reason; nothing is stored when refused. A trainer
 * whose own data set is smaller fails the job saying so instead of training on fewer.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Result } from '../server/protocol';
import { createDaemon, type DaemonMessage } from '../server/trainer/daemon';
import { loadMnist, MNIST_FILES } from '../server/trainer/data/mnist';
import { dbState } from './helpers/dbState';
import { connectBrowser, eventually, startHub } from './helpers/hub';

type Refusal = Extract<Result<unknown>, { ok: false }>;
const details = (r: Refusal) => (r.details ?? {}) as Record<string, string>;

/** An IDX file: the magic number for unsigned bytes of `dims.length` dimensions, the dims, then `data`. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 + dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A data set in MNIST's layout with `train` and `test` images (blank, labels 0–9 in turn). */
async function writeDataset(dir: string, train: number, test: number): Promise<void> {
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  await writeFile(
    path.join(dir, MNIST_FILES.trainImages),
    idx([train, 28, 28], new Uint8Array(train * 784)),
  );
  await writeFile(path.join(dir, MNIST_FILES.trainLabels), idx([train], labels(train)));
  await writeFile(
    path.join(dir, MNIST_FILES.testImages),
    idx([test, 28, 28], new Uint8Array(test * 784)),
  );
  await writeFile(path.join(dir, MNIST_FILES.testLabels), idx([test], labels(test)));
}

test('the bundled MNIST: digit limits beyond it and too many batch points are refused at their fields, over HTTP and the socket, storing nothing', async (t) => {
  const hub = await startHub();
  t.after(() => hub.close());
  const ada = await connectBrowser(hub.url, 'Ada');
  t.after(() => ada.close());
  assert.deepEqual(
    ada.hello?.dataset,
    { train: 60_000, test: 10_000 },
    "the hello tells the page the data set's sizes",
  );
  const post = async (body: unknown) => {
    const res = await fetch(`${hub.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Result<unknown> };
  };
  const before = await dbState(hub);

  // 70,000 training digits: the CLI's words, at that field only.
  const over = await post({ name: 'too many', hyperparams: { trainLimit: 70_000 } });
  assert.equal(over.status, 400);
  assert.ok(!over.body.ok && over.body.error === 'INVALID');
  assert.deepEqual(details(over.body), {
    'hyperparams.trainLimit': 'the data set has only 60,000 training images, got 70,000',
  });
  const overSocket = await ada.call('run:start', {
    hyperparams: { trainLimit: 70_000, testLimit: 10_001 },
  });
  assert.ok(!overSocket.ok && overSocket.error === 'INVALID');
  assert.deepEqual(details(overSocket), {
    'hyperparams.trainLimit': 'the data set has only 60,000 training images, got 70,000',
    'hyperparams.testLimit': 'the data set has only 10,000 test images, got 10,001',
  });

  // 99,999,999 training digits: the data set is the reason, not the epochs ("got 1").
  const huge = await post({ hyperparams: { trainLimit: 99_999_999 } });
  assert.ok(!huge.body.ok);
  assert.deepEqual(Object.keys(details(huge.body)), ['hyperparams.trainLimit']);
  assert.match(
    details(huge.body)['hyperparams.trainLimit'],
    /only 60,000 training images, got 99,999,999/,
  );

  // Too many batch points: at every field that causes it, the reason kept.
  const points = await ada.call('run:start', { hyperparams: { epochs: 1000, batchSize: 1 } });
  assert.ok(!points.ok && points.error === 'INVALID');
  assert.deepEqual(Object.keys(details(points)).sort(), [
    'hyperparams.batchSize',
    'hyperparams.epochs',
    'hyperparams.trainLimit',
  ]);
  for (const message of Object.values(details(points))) {
    assert.match(
      message,
      /60,000,000 batch points \(1,000 epochs × 60,000 batches\); a run may record at most 2,000,000/,
    );
    assert.match(message, /batch size \(now 1\).*training digits \(now all 60,000\)/);
    assert.doesNotMatch(message, /got 1\b/);
  }
  assert.match(points.message, /60,000,000 batch points/, "the envelope's message says why too");
  assert.deepEqual(await dbState(hub), before, 'refused runs store nothing');

  // At the edges: every digit of the data set, and 1,000 epochs of batch 32, are allowed.
  assert.equal(
    (await post({ hyperparams: { trainLimit: 60_000, testLimit: 10_000 } })).status,
    201,
  );
  assert.ok((await ada.call('run:start', { hyperparams: { epochs: 1000 } })).ok);
});

test('a hub on its own data set checks against its sizes; a trainer on a smaller one fails the job saying so', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-data-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeDataset(dir, 100, 20);
  const hub = await startHub({ dataDir: dir });
  t.after(() => hub.close());
  const ada = await connectBrowser(hub.url, 'Ada');
  t.after(() => ada.close());
  assert.deepEqual(ada.hello?.dataset, { train: 100, test: 20 });
  const before = await dbState(hub);
  const refused = await ada.call('run:start', { hyperparams: { trainLimit: 101, testLimit: 21 } });
  assert.ok(!refused.ok && refused.error === 'INVALID');
  assert.deepEqual(details(refused), {
    'hyperparams.trainLimit': 'the data set has only 100 training images, got 101',
    'hyperparams.testLimit': 'the data set has only 20 test images, got 21',
  });
  // 70,000 would be fine on MNIST, not here; a limit within this data set is.
  const mnistSized = await ada.call('run:start', { hyperparams: { trainLimit: 70_000 } });
  assert.ok(
    !mnistSized.ok &&
      /only 100 training images/.test(details(mnistSized)['hyperparams.trainLimit']),
  );
  assert.deepEqual(await dbState(hub), before);
  assert.ok((await ada.call('run:start', { hyperparams: { trainLimit: 100, testLimit: 20 } })).ok);

  // A trainer daemon whose data set is smaller than the job asks for refuses it in words.
  const sent: DaemonMessage[] = [];
  const daemon = createDaemon({
    backend: { name: 'cpu', device: 'cpu', host: 'test' },
    loadData: () => loadMnist({ dataDir: dir }),
    checkpointRoot: null,
    output: { send: (m) => void sent.push(m) },
  });
  assert.ok(daemon.submit({ runId: 'r-too-many', hyperparams: { trainLimit: 500 } }));
  const failed = await eventually(
    () =>
      sent.find(
        (m): m is Extract<DaemonMessage, { kind: 'job:failed' }> => m.kind === 'job:failed',
      ),
    'the job failed',
  );
  assert.match(
    failed.message,
    /training digits: the data set has only 100 training images, got 500/,
  );
  assert.ok(!sent.some((m) => m.kind === 'events'), 'it did not start training on fewer');
  await daemon.idle();
});
