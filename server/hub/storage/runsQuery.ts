/**
 * The runs list's query (`GET /api/runs`), parsed from the URL: the rule of which parameters
 * the list takes lives with the list that applies them (runList.ts). The sort keys, orders and
 * limits it checks are protocol (the dashboard builds its links from them).
 */
import { z } from 'zod';
import {
  ARCHIVED_CHOICES,
  defaultOrder,
  MAX_NAME_CHARS,
  RUN_SORT_KEYS,
  RUN_STATUSES,
  RUNS_PAGE_DEFAULT,
  RUNS_PAGE_MAX,
  RUNS_SEARCH_MAX_CHARS,
  SORT_ORDERS,
  tagKey,
  tagSchema,
} from '../../protocol';
import { INT_COLUMN_MAX } from '../../trainer/eventSchema';

const quoted = (input: unknown) => JSON.stringify(String(input).slice(0, 100));
const oneOf = <const T extends readonly [string, ...string[]]>(
  param: string,
  values: T,
  what: string,
) =>
  z.enum(values, {
    error: (issue) =>
      `${param}: ${quoted(issue.input)} is not ${what}; use one of ${values.join(', ')}`,
  });
const wholeNumber = (param: string, min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({
      code: 'custom',
      message: `${param}: a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got ${quoted(text)}`,
    });
    return z.NEVER;
  });
const RUNS_QUERY_PARAMS = [
  'sort',
  'order',
  'status',
  'tag',
  'q',
  'creator',
  'archived',
  'limit',
  'offset',
] as const;

/**
 * `GET /api/runs` query parameters, as strings from the URL (each given at most once). Every
 * value that is not valid is refused with a message that says what it must be; an unknown
 * parameter (a typo) is refused too, naming the ones there are. Omitted ones take a default:
 * sort `created`, order {@link defaultOrder}, archived `exclude`, limit {@link RUNS_PAGE_DEFAULT},
 * offset 0. Runs tie-break by id in the same order, so pages never overlap or skip a run;
 * runs without a value of the sort column (no loss yet) come last in either order.
 */
export const runsQuerySchema = z
  .strictObject(
    {
      sort: oneOf('sort', RUN_SORT_KEYS, 'a column the runs list sorts by').default('created'),
      order: oneOf('order', SORT_ORDERS, 'an order').optional(),
      status: oneOf('status', RUN_STATUSES, 'a run status').optional(),
      tag: z
        .string()
        .transform((text, ctx) => {
          const tag = tagSchema.safeParse(text);
          if (tag.success) return tagKey(tag.data);
          ctx.addIssue({
            code: 'custom',
            message: `tag: ${tag.error.issues[0]?.message ?? `${quoted(text)} is not a tag`}`,
          });
          return z.NEVER;
        })
        .optional(),
      /** Text in the name, description, tags, creator or id, without regard to case. */
      q: z
        .string()
        .max(RUNS_SEARCH_MAX_CHARS, `q: a search is at most ${RUNS_SEARCH_MAX_CHARS} characters`)
        .regex(/^[^\p{Cc}]*$/u, 'q: a search is one line of text, without control characters')
        .transform((text) => text.trim())
        .optional(),
      /** Who started the runs (their display name, or `api`), without regard to case. */
      creator: z
        .string()
        .trim()
        .min(1, 'creator: a name of at least one character')
        .max(MAX_NAME_CHARS, `creator: a name is at most ${MAX_NAME_CHARS} characters`)
        .optional(),
      archived: oneOf('archived', ARCHIVED_CHOICES, 'a choice of archived runs').default('exclude'),
      limit: wholeNumber('limit', 1, RUNS_PAGE_MAX).default(RUNS_PAGE_DEFAULT),
      /** How many runs of the ordering come before this page; past the end, a page is empty. */
      offset: wholeNumber('offset', 0, INT_COLUMN_MAX).default(0),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(quoted).join(', ')}: GET /api/runs takes ${RUNS_QUERY_PARAMS.join(', ')}`
          : undefined,
    },
  )
  .transform((q) => ({ ...q, q: q.q || undefined, order: q.order ?? defaultOrder(q.sort) }));
export type RunsQuery = z.output<typeof runsQuerySchema>;
