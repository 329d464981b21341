/**
 * The runs list's sorting and filtering, pure (no React): what the runs page shows of the runs
 * it holds. (Issue 13 moves both to the hub, for 10,000 runs.)
 */
import type { RunSummary } from '../../server/protocol';

export interface Filter {
  text: string;
  status: string;
  tag: string;
}

/** Whether a run passes the filter: its status, one of its tags, and the text in its name, description, tags or creator. */
export function matches(run: RunSummary, f: Filter): boolean {
  if (f.status && run.status !== f.status) return false;
  if (f.tag && !run.tags.includes(f.tag)) return false;
  const text = f.text.trim().toLowerCase();
  if (!text) return true;
  return [run.name, run.description, run.createdBy, run.id, ...run.tags].some((s) => s.toLowerCase().includes(text));
}

/** Hyperparameters the table can show as columns besides the learning rate (off by default). */
export const HP_COLUMNS = [
  ['epochs', 'Epochs'],
  ['batchSize', 'Batch size'],
  ['optimizer', 'Optimizer'],
  ['seed', 'Seed'],
] as const;
export type HpColumn = (typeof HP_COLUMNS)[number][0];

export type SortKey = 'name' | 'created' | 'status' | 'progress' | 'loss' | 'accuracy' | 'lr' | 'backend' | 'creator' | HpColumn;
type Sortable = string | number | null;

/** What each column sorts by; missing values go last whatever the direction. */
function sortValue(r: RunSummary, key: SortKey, lines: Record<string, number[]>): Sortable {
  switch (key) {
    case 'name':
      return r.name.toLowerCase();
    case 'created':
      return r.createdAt;
    case 'status':
      return r.status;
    case 'progress':
      return r.totalSteps ? r.lastStep / r.totalSteps : null;
    case 'loss':
      return lines[r.id]?.at(-1) ?? r.finalTrainLoss;
    case 'accuracy':
      return r.finalTestAccuracy;
    case 'lr':
      return r.learningRates.at(-1)?.value ?? r.hyperparams.learningRate;
    case 'backend':
      return r.backend;
    case 'creator':
      return r.createdBy.toLowerCase();
    default:
      return r.hyperparams[key];
  }
}

export function sortRuns(runs: readonly RunSummary[], key: SortKey, dir: 1 | -1, lines: Record<string, number[]> = {}): RunSummary[] {
  return runs
    .map((r) => ({ r, v: sortValue(r, key, lines) }))
    .sort((a, b) => (a.v === null ? (b.v === null ? 0 : 1) : b.v === null ? -1 : a.v < b.v ? -dir : a.v > b.v ? dir : 0))
    .map((x) => x.r);
}

