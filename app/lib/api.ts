/**
 * The dashboard's HTTP client for the hub's JSON API. Every route answers with the envelope
 * `{ ok: true, data } | { ok: false, error, message, details? }` (docs/protocol.md); these
 * helpers return `data` or throw an {@link ApiError}, so a network failure, an HTML error page
 * and a refused request all reach the UI as one readable error. Nothing here is React-specific.
 */
import type { ErrorCode } from '../../server/protocol';

/**
 * Why a request failed: the hub's error code, or `NETWORK` (the hub could not be reached) or
 * `BAD_RESPONSE` (it answered something that is not the envelope).
 */
export type ApiErrorCode = ErrorCode | 'NETWORK' | 'BAD_RESPONSE';

/** A failed API request. `message` is meant to be shown to people as is. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** The hub's error code, or NETWORK / BAD_RESPONSE for failures the hub did not describe. */
  readonly code: ApiErrorCode;
  /** The envelope's `details`, e.g. field paths mapped to messages for INVALID. */
  readonly details: unknown;
  /** The HTTP status, or null when no response arrived. */
  readonly status: number | null;

  constructor(
    code: ApiErrorCode,
    message: string,
    details?: unknown,
    status: number | null = null,
  ) {
    super(message);
    this.code = code;
    this.details = details;
    this.status = status;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

async function request<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
    });
  } catch (error) {
    // An abort is the caller's own doing: rethrow it untouched so it can be told apart.
    if (init.signal?.aborted) throw error;
    throw new ApiError('NETWORK', 'Could not reach the Livetrain hub. Is it running?');
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ApiError(
      'BAD_RESPONSE',
      `The hub answered HTTP ${response.status} without a JSON body.`,
      undefined,
      response.status,
    );
  }
  if (isRecord(body) && body.ok === true && 'data' in body) return body.data as T;
  if (
    isRecord(body) &&
    body.ok === false &&
    typeof body.error === 'string' &&
    typeof body.message === 'string'
  ) {
    throw new ApiError(body.error as ErrorCode, body.message, body.details, response.status);
  }
  throw new ApiError(
    'BAD_RESPONSE',
    `The hub answered HTTP ${response.status} in an unexpected shape.`,
    undefined,
    response.status,
  );
}

/**
 * GETs an API path (e.g. `/api/runs`) and returns the envelope's `data`, unvalidated: callers
 * that depend on its shape should check it.
 *
 * @throws {@link ApiError} on any failure; the abort error itself when `signal` aborted.
 */
export function apiGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>(path, { method: 'GET', signal });
}

/**
 * POSTs `body` as JSON to an API path and returns the envelope's `data`.
 *
 * @throws {@link ApiError} on any failure; the abort error itself when `signal` aborted.
 */
export function apiPost<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    signal,
  });
}

/** True for the error a fetch throws when its AbortSignal fired. */
export function isAbortError(error: unknown): boolean {
  return isRecord(error) && error.name === 'AbortError';
}
