/**
 * Many runs at once for the runs list's tests and benchmark: deterministic, varied in every
 * column the list sorts or filters by (missing values included), to write in bulk through the
 * storage layer (`storage.runs.insertMany`), never through the API one by one; and the list's
 * order computed in JS, to check the database's against.
 */
import { RUN_STATUSES } from '../../server/protocol';
import type { RunImport } from '../../server/hub/storage/runs';
import { hyperparamsSchema } from '../../server/trainer/config';

const NAMES = ['Baseline', 'lr sweep', 'Adam run', 'tiny MNIST', 'long run', 'Zeta'] as const;
const CREATORS = ['Ada', 'bob', 'Cyd', 'api'] as const;
const BACKENDS = ['wasm', 'webgpu', 'cpu'] as const;
/** When the first seeded run was created; each next one a second later, two by two (ties on createdAt). */
export const SEED_EPOCH_MS = Date.UTC(2026, 10, 1);

/** `n` runs; run i's id is `seed-<i, 5 digits>` (so ids sort as i does). */
export function seedRuns(n: number): RunImport[] {
  return Array.from({ length: n }, (_, i): RunImport => {
    const learningRate = Math.round(1 + ((i * 13) % 100)) / 1000;
    const hyperparams = hyperparamsSchema.parse({
      epochs: 1 + ((i * 7) % 50),
      batchSize: [16, 32, 64, 128][i % 4],
      learningRate,
      optimizer: i % 2 ? 'adam' : 'sgd',
      seed: (i * 31) % 1000,
    });
    const tags = [
      ...(i % 10 === 0 ? ['baseline'] : []),
      ...(i % 3 === 0 ? ['sweep'] : []),
      ...(i % 1000 === 7 ? ['rare_tag'] : []),
      ...(i % 1000 === 8 ? ['rare-tag'] : []),
    ];
    const totalSteps = i % 8 === 0 ? null : 100;
    return {
      id: `seed-${String(i).padStart(5, '0')}`,
      name: `${NAMES[i % NAMES.length]} ${i}`,
      description: i % 100 === 0 ? 'Uses **Adam** with 50% dropout_rate' : '',
      tags,
      hyperparams,
      status: RUN_STATUSES[i % RUN_STATUSES.length],
      createdBy: CREATORS[(i >> 1) % CREATORS.length],
      createdAt: new Date(SEED_EPOCH_MS + Math.floor(i / 2) * 1000),
      archivedAt: i % 50 === 49 ? new Date(SEED_EPOCH_MS + i * 1000 + 500) : null,
      backend: i % 9 === 0 ? null : BACKENDS[i % 3],
      lastStep: totalSteps === null ? 0 : i % 101,
      totalSteps,
      lastLoss: i % 6 === 0 ? null : ((i * 37) % 1000) / 500,
      finalTestAccuracy: i % 5 === 0 ? null : 90 + ((i * 17) % 1000) / 100,
      learningRates:
        i % 4 === 0
          ? [
              { step: 0, value: learningRate },
              { step: 5, value: learningRate * 4 },
            ]
          : [{ step: 0, value: learningRate }],
    };
  });
}

/** A run's value in the column `sort` orders by, as the list documents it (null: none). */
export function sortValueOf(run: RunImport, sort: string): string | number | null {
  switch (sort) {
    case 'created':
      return (run.createdAt ?? new Date(0)).getTime();
    case 'name':
      return run.name.toLowerCase();
    case 'status':
      return run.status;
    case 'progress':
      return run.totalSteps ? (run.lastStep ?? 0) / run.totalSteps : null;
    case 'loss':
      return run.lastLoss ?? null;
    case 'accuracy':
      return run.finalTestAccuracy ?? null;
    case 'lr':
      return run.learningRates?.at(-1)?.value ?? run.hyperparams.learningRate;
    case 'backend':
      return run.backend ?? null;
    case 'creator':
      return run.createdBy.toLowerCase();
    case 'epochs':
    case 'batchSize':
    case 'optimizer':
    case 'seed':
      return run.hyperparams[sort];
    default:
      throw new Error(`no sort ${sort}`);
  }
}

/** The list's order, in JS: by the column (runs without a value last either way), then by id, both in `order`. */
export function sortLikeTheList(
  runs: readonly RunImport[],
  sort: string,
  order: 'asc' | 'desc',
): RunImport[] {
  const dir = order === 'asc' ? 1 : -1;
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  return runs
    .map((r) => ({ r, v: sortValueOf(r, sort) }))
    .sort((a, b) => {
      if (a.v === null || b.v === null)
        return a.v === b.v ? dir * cmp(a.r.id, b.r.id) : a.v === null ? 1 : -1;
      return dir * (cmp(a.v, b.v) || cmp(a.r.id, b.r.id));
    })
    .map((x) => x.r);
}
