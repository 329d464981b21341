/**
 * The runs page's view of the list, pure (no React): what it asks the hub for (sorting,
 * filtering and paging happen in the hub's database, `GET /api/runs`), how that view lives in
 * the page's URL, and how live announcements change the page it holds.
 */
import {
  defaultOrder,
  RUN_SORT_KEYS,
  tagKey,
  type RunsPage,
  type RunSortKey,
  type RunSummary,
  type SortOrder,
} from '../../server/protocol';

/** Runs a page of the list shows. */
export const PAGE_SIZE = 50;

export interface Filter {
  text: string;
  status: string;
  tag: string;
}

/**
 * Whether a run passes the filter: its status, one of its tags, and the text in its name,
 * description, tags, creator or id (as the hub's search does: without regard to case).
 */
export function matches(run: RunSummary, f: Filter): boolean {
  if (f.status && run.status !== f.status) return false;
  // Tags compare without regard to case, as the hub's filter does.
  if (f.tag && !run.tags.some((t) => tagKey(t) === tagKey(f.tag))) return false;
  const text = f.text.trim().toLowerCase();
  if (!text) return true;
  return [run.name, run.description, run.createdBy, run.id, ...run.tags].some((s) =>
    s.toLowerCase().includes(text),
  );
}

/** Hyperparameters the table can show as columns besides the learning rate (off by default). */
export const HP_COLUMNS = [
  ['epochs', 'Epochs'],
  ['batchSize', 'Batch size'],
  ['optimizer', 'Optimizer'],
  ['seed', 'Seed'],
] as const satisfies ReadonlyArray<readonly [RunSortKey, string]>;
export type HpColumn = (typeof HP_COLUMNS)[number][0];

/**
 * What the page shows of the list: the filter, the sort, archived runs or not, and the page
 * (from 1). `sort` and `order` are kept as the URL gave them: one the hub does not know is
 * sent as is, and the page shows the hub's answer saying what is wrong.
 */
export interface ListView extends Filter {
  sort: string;
  order: string;
  archived: boolean;
  page: number;
}

export const DEFAULT_VIEW: ListView = {
  text: '',
  status: '',
  tag: '',
  sort: 'created',
  order: 'desc',
  archived: false,
  page: 1,
};

export function isSortKey(key: string): key is RunSortKey {
  return (RUN_SORT_KEYS as readonly string[]).includes(key);
}

/** The view a page URL's query describes (`?q=…&status=…&tag=…&sort=…&order=…&archived=1&page=…`); what it omits is the default. */
export function viewFromSearch(search: string): ListView {
  const p = new URLSearchParams(search);
  const sort = p.get('sort') ?? DEFAULT_VIEW.sort;
  const page = Number(p.get('page') ?? 1);
  return {
    text: p.get('q') ?? '',
    status: p.get('status') ?? '',
    tag: p.get('tag') ?? '',
    sort,
    order: p.get('order') ?? (isSortKey(sort) ? defaultOrder(sort) : 'asc'),
    archived: p.get('archived') === '1',
    page: Number.isSafeInteger(page) && page >= 1 ? page : 1,
  };
}

/** The page URL's query for a view, defaults left out, other parameters of `current` (e.g. `copy`) kept. */
export function searchFromView(view: ListView, current = ''): string {
  const p = new URLSearchParams(current);
  const set = (name: string, value: string, unless: string) =>
    value === unless ? p.delete(name) : p.set(name, value);
  set('q', view.text.trim(), '');
  set('status', view.status, '');
  set('tag', view.tag, '');
  set('sort', view.sort, DEFAULT_VIEW.sort);
  set('order', view.order, isSortKey(view.sort) ? defaultOrder(view.sort) : '');
  set('archived', view.archived ? '1' : '', '');
  set('page', String(view.page), '1');
  const text = p.toString();
  return text ? `?${text}` : '';
}

/** The `GET /api/runs` query for a view's page. */
export function apiQuery(view: ListView, pageSize = PAGE_SIZE): string {
  const p = new URLSearchParams({ sort: view.sort, order: view.order });
  if (view.status) p.set('status', view.status);
  if (view.tag) p.set('tag', view.tag);
  if (view.text.trim()) p.set('q', view.text.trim());
  p.set('archived', view.archived ? 'include' : 'exclude');
  p.set('limit', String(pageSize));
  p.set('offset', String((view.page - 1) * pageSize));
  return p.toString();
}

/** A header clicked: the same column turns its order round, another one sorts in its default order; back to page 1. */
export function sortBy(view: ListView, key: RunSortKey): ListView {
  const order: SortOrder =
    view.sort === key ? (view.order === 'asc' ? 'desc' : 'asc') : defaultOrder(key);
  return { ...view, sort: key, order, page: 1 };
}

/** "runs 51–100 of 10,000" (or "no runs"). */
export function rangeText(offset: number, shown: number, total: number): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if (total === 0 || shown === 0)
    return total === 0 ? 'no runs' : `no runs here (${n(total)} in all)`;
  return `runs ${n(offset + 1)}–${n(offset + shown)} of ${n(total)}`;
}

/** The page of the list the page holds, and the new runs it has been told of but does not show. */
export interface HeldPage {
  runs: RunSummary[];
  /** Where the page starts in the list's order (the answer's, which the view may have moved on from). */
  offset: number;
  total: number;
  /** The hub's time when it read the page: runs created after it are new to it. */
  asOf: string;
  /** New runs that match the view but belong elsewhere in its order (the "N new runs — show" notice). */
  newRuns: string[];
}

export function heldPage(page: RunsPage): HeldPage {
  return { runs: page.runs, offset: page.offset, total: page.total, asOf: page.asOf, newRuns: [] };
}

/** Whether the view's first page is the newest runs first, where a new run belongs at the top. */
function newestFirst(view: ListView): boolean {
  return view.sort === 'created' && view.order === 'desc' && view.page === 1;
}

/**
 * A run changed (`runs:changed`): on the page, it changes in place (its place in the order is
 * not moved while people look at it) or leaves it when it no longer matches the view; a new run
 * that matches goes on top of the newest-first first page, and is counted as new elsewhere.
 */
export function runChanged(
  held: HeldPage,
  run: RunSummary,
  view: ListView,
  pageSize = PAGE_SIZE,
): HeldPage {
  const fits = matches(run, view) && (view.archived || run.archivedAt === null);
  const at = held.runs.findIndex((r) => r.id === run.id);
  if (at >= 0) {
    if (!fits)
      return { ...held, runs: held.runs.filter((r) => r.id !== run.id), total: held.total - 1 };
    const runs = held.runs.slice();
    runs[at] = run;
    return { ...held, runs };
  }
  const counted = held.newRuns.includes(run.id);
  if (!fits)
    return counted ? { ...held, newRuns: held.newRuns.filter((id) => id !== run.id) } : held;
  if (counted || run.createdAt <= held.asOf) return held;
  if (newestFirst(view))
    return { ...held, runs: [run, ...held.runs].slice(0, pageSize), total: held.total + 1 };
  return { ...held, newRuns: [...held.newRuns, run.id] };
}

/** A run was deleted for good (`runs:deleted`). */
export function runDeleted(held: HeldPage, runId: string): HeldPage {
  if (held.runs.some((r) => r.id === runId))
    return { ...held, runs: held.runs.filter((r) => r.id !== runId), total: held.total - 1 };
  return held.newRuns.includes(runId)
    ? { ...held, newRuns: held.newRuns.filter((id) => id !== runId) }
    : held;
}
