/**
 * Test digits and predictions for the dashboard: the pixels of test-set digits by index (for
 * the prediction panel, the confusion matrix and the misclassified gallery), and predictions
 * of a drawn digit from a run's latest stored checkpoint. TensorFlow.js (wasm) and the dataset
 * load on first use, so a hub that is never asked pays nothing.
 */
import type { HttpBodies, WireDigit } from '../../protocol';
import { initBackend } from '../../trainer/backend';
import { decodeCheckpoint } from '../../trainer/checkpoint';
import type { DatasetSizes } from '../../trainer/config';
import {
  loadMnist,
  readDatasetSizes,
  resolveDataDir,
  type MnistData,
} from '../../trainer/data/mnist';
import {
  createPredictor,
  digitPixels,
  PredictInputError,
  type Predictor,
} from '../../trainer/predict';
import { HubError } from '../errors';
import type { Storage } from '../storage/storage';

export interface DigitService {
  /**
   * How many images each split of the hub's data set holds (read once; a failure is tried
   * again at the next call), for the digit limits a run may ask for.
   */
  sizes(): Promise<DatasetSizes>;
  digits(split: 'train' | 'test', indices: number[]): Promise<WireDigit[]>;
  /**
   * Starts loading the dataset in the background (a run was started: its page will ask for
   * the prediction panel's digits within seconds, and loading them then left the panel grey).
   */
  warm(): void;
  predict(runId: string, images: number[][]): Promise<HttpBodies['POST /api/runs/:id/predict']>;
  dispose(): void;
}

const CACHED_PREDICTORS = 4;

export function createDigitService(
  storage: Pick<Storage, 'runs' | 'peers'>,
  opts: { dataDir?: string } = {},
): DigitService {
  let data: Promise<MnistData> | null = null;
  let backend: Promise<unknown> | null = null;
  /** Predictors by checkpoint row id, most recently used last. */
  const predictors = new Map<number, Predictor>();

  let sizes: Promise<DatasetSizes> | null = null;
  const dataset = () => (data ??= loadMnist({ dataDir: resolveDataDir(opts.dataDir) }));

  async function predictorFor(runId: string) {
    const row = await storage.peers.latestUploaded(runId);
    if (!row?.data) {
      if (!(await storage.runs.exists(runId))) throw new HubError('NOT_FOUND', `no run ${runId}`);
      throw new HubError(
        'CONFLICT',
        'this run has no checkpoint yet: one is saved at the end of each epoch and when it stops',
      );
    }
    let predictor = predictors.get(row.id);
    if (predictor) {
      predictors.delete(row.id);
    } else {
      backend ??= initBackend('wasm');
      await backend;
      predictor = createPredictor(
        decodeCheckpoint(Buffer.from(row.data), `checkpoint ${row.id} of run ${runId}`),
      );
      if (predictors.size >= CACHED_PREDICTORS) {
        const [oldest, evicted] = predictors.entries().next().value!;
        predictors.delete(oldest);
        evicted.dispose();
      }
    }
    predictors.set(row.id, predictor);
    return { predictor, row };
  }

  return {
    sizes() {
      sizes ??= readDatasetSizes(resolveDataDir(opts.dataDir)).catch((error: unknown) => {
        sizes = null;
        throw error;
      });
      return sizes;
    },
    async digits(split, indices) {
      const set = (await dataset())[split];
      return indices.map((index) => {
        if (index >= set.count)
          throw new HubError('INVALID', `digit index ${index} is out of range 0–${set.count - 1}`, {
            indices: 'out of range',
          });
        return {
          index,
          label: set.labels[index],
          pixels: Buffer.from(digitPixels(set, index)).toString('base64'),
        };
      });
    },
    warm() {
      // A failed load is retried by the next request (which reports it).
      dataset().catch(() => (data = null));
    },
    async predict(runId, images) {
      const { predictor, row } = await predictorFor(runId);
      try {
        const predictions = await predictor.predict(images);
        return { checkpoint: { step: row.step, epoch: row.epoch, seq: row.seq }, predictions };
      } catch (error) {
        if (error instanceof PredictInputError) throw new HubError('INVALID', error.message);
        throw error;
      }
    },
    dispose() {
      for (const p of predictors.values()) p.dispose();
      predictors.clear();
    },
  };
}
