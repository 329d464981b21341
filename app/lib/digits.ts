'use client';
/**
 * Client-side caches for test digits, kept for the page's life: the pixels of test-set digits
 * by index (`GET /api/digits`, fetched in batches, each index requested once however many
 * components ask) and each epoch's misclassified list (`GET /api/runs/:id/misclassified`).
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { z } from 'zod';
import {
  digitsBodySchema,
  misclassifiedBodySchema,
  type DigitPrediction,
} from '../../server/protocol';
import { apiGet } from './api';
import { DIGIT_PIXELS } from './mnistify';

/** One test digit: its true label and 784 grey values 0–255, row-major, white on black. */
export interface Digit {
  label: number;
  pixels: Uint8Array;
}

/** The hub caps `GET /api/digits` at this many indices per request. */
const BATCH = 1000;

/** Parses an API answer, turning a shape mismatch into a readable error. */
function parse<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new Error(`the hub sent ${what} in an unexpected shape`);
  return parsed.data;
}

/**
 * Decodes the base64 pixels of a digit as the hub sends them.
 *
 * @throws RangeError when the bytes are not one 28×28 image.
 */
export function decodePixels(base64: string): Uint8Array {
  const bytes = atob(base64);
  if (bytes.length !== DIGIT_PIXELS)
    throw new RangeError(`a digit has ${DIGIT_PIXELS} pixels, got ${bytes.length}`);
  const pixels = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) pixels[i] = bytes.charCodeAt(i);
  return pixels;
}

const cache = new Map<number, Digit>();
/** Indices asked for but not yet sent, and the promise that settles when they have loaded. */
let queued: number[] = [];
let queuedLoad: Promise<void> | null = null;
const inflight = new Map<number, Promise<void>>();
const listeners = new Set<() => void>();
let version = 0;

function changed(): void {
  version++;
  for (const listener of listeners) listener();
}

async function fetchBatch(indices: number[]): Promise<void> {
  const data = parse(
    digitsBodySchema,
    await apiGet<unknown>(`/api/digits?split=test&indices=${indices.join(',')}`),
    'digits',
  );
  for (const d of data.digits)
    cache.set(d.index, { label: d.label, pixels: decodePixels(d.pixels) });
  changed();
}

/** Sends everything queued in this tick, in batches of at most {@link BATCH} indices. */
async function flush(): Promise<void> {
  const indices = queued;
  queued = [];
  queuedLoad = null;
  const batches: Promise<void>[] = [];
  for (let i = 0; i < indices.length; i += BATCH)
    batches.push(fetchBatch(indices.slice(i, i + BATCH)));
  try {
    await Promise.all(batches);
  } finally {
    for (const index of indices) inflight.delete(index);
  }
}

/** Loads the digits not cached or on their way; settles when those asked for have loaded. */
function load(indices: readonly number[]): Promise<unknown> {
  const waits = new Set<Promise<void>>();
  for (const index of indices) {
    if (cache.has(index)) continue;
    let pending = inflight.get(index);
    if (!pending) {
      queued.push(index);
      // Wait one macrotask so that every component rendering now joins the same request.
      pending = queuedLoad ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(flush);
      inflight.set(index, pending);
    }
    waits.add(pending);
  }
  return Promise.all(waits);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The test digits at `indices`, fetched as needed and cached for the page's life. `digits`
 * holds those loaded so far (it fills in as batches arrive); `error` is set when a request
 * failed, and cleared when the indices change and loading is retried.
 */
export function useDigits(indices: readonly number[]): {
  digits: Map<number, Digit>;
  error: string | null;
} {
  const key = indices.join(',');
  const seen = useSyncExternalStore(
    subscribe,
    () => version,
    () => 0,
  );
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setError(null);
    const wanted = key ? key.split(',').map(Number) : [];
    load(wanted).catch((e: Error) => {
      if (live) setError(`Could not load digit images: ${e.message}`);
    });
    return () => {
      live = false;
    };
  }, [key]);

  const digits = useMemo(() => {
    void seen; // a new cache version: look again
    const found = new Map<number, Digit>();
    for (const index of key ? key.split(',').map(Number) : []) {
      const digit = cache.get(index);
      if (digit) found.set(index, digit);
    }
    return found;
  }, [key, seen]);

  return { digits, error };
}

/** A misclassified list of one epoch. */
export interface MisclassifiedList {
  epoch: number;
  items: DigitPrediction[];
}

const lists = new Map<string, Promise<MisclassifiedList>>();
/** An epoch's list may land a moment after its summary: an empty answer is asked again. */
const EMPTY_RETRIES = 3;
const EMPTY_RETRY_MS = 1000;

async function fetchList(runId: string, epoch: number): Promise<MisclassifiedList> {
  const path = `/api/runs/${encodeURIComponent(runId)}/misclassified?epoch=${epoch}`;
  for (let attempt = 0; ; attempt++) {
    const data = parse(
      misclassifiedBodySchema,
      await apiGet<unknown>(path),
      'a misclassified list',
    );
    if (data.items.length > 0 || attempt >= EMPTY_RETRIES) return { epoch, items: data.items };
    await new Promise((resolve) => setTimeout(resolve, EMPTY_RETRY_MS));
  }
}

/** The misclassified test digits of a run's epoch, fetched once and cached; failures are not. */
export function loadMisclassified(runId: string, epoch: number): Promise<MisclassifiedList> {
  const key = `${runId}\u0000${epoch}`;
  let list = lists.get(key);
  if (!list) {
    list = fetchList(runId, epoch);
    lists.set(key, list);
    list.then(
      (l) => l.items.length === 0 && lists.delete(key),
      () => lists.delete(key),
    );
  }
  return list;
}

/**
 * The misclassified test digits of `epoch` (null: none asked for), sorted by test index.
 * `items` is null while loading or after a failure, which `error` describes.
 */
export function useMisclassified(
  runId: string,
  epoch: number | null,
): { items: DigitPrediction[] | null; error: string | null } {
  const [state, setState] = useState<{
    key: string;
    items: DigitPrediction[] | null;
    error: string | null;
  }>({
    key: '',
    items: null,
    error: null,
  });
  const key = epoch === null ? '' : `${runId}\u0000${epoch}`;

  useEffect(() => {
    if (epoch === null) return;
    let live = true;
    loadMisclassified(runId, epoch).then(
      (list) => live && setState({ key, items: list.items, error: null }),
      (e: Error) =>
        live &&
        setState({
          key,
          items: null,
          error: `Could not load the misclassified digits of epoch ${epoch}: ${e.message}`,
        }),
    );
    return () => {
      live = false;
    };
  }, [runId, epoch, key]);

  // A state left from another epoch is not this one's answer.
  return state.key === key
    ? { items: state.items, error: state.error }
    : { items: null, error: null };
}
