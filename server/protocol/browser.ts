/**
 * Browser → hub commands on the default namespace: each command's payload schema, the data of
 * its ack, and the rules of the fields people type (names, tags, descriptions).
 */
import { z } from 'zod';
import {
  crossFieldIssues,
  hyperparamsSchema,
  MAX_RUN_NAME_CHARS,
  reportingSchema,
  runIdSchema,
  type DatasetSizes,
  type Hyperparams,
} from '../trainer/config';
import { INT_COLUMN_MAX } from '../trainer/eventSchema';
import { RANGE_MAX_COLUMNS, SERIES, type SeriesName } from '../columns/buckets';
import type { BucketColumns, PointColumns } from '../columns/codec';
import type { Ack, ErrorCode } from './envelope';
import type { Participant, RunSnapshot, RunSummary, WireAnnotation } from './stream';

/** Largest JSON payload a browser may send in one event. */
export const MAX_BROWSER_PAYLOAD_BYTES = 64 * 1024;
export const MAX_ANNOTATION_CHARS = 2000;
export const MAX_NAME_CHARS = 64;

/** `run:series`: one series over a step range, for a chart `columns` pixels wide. */
export const seriesRangeSchema = z
  .object({
    runId: runIdSchema,
    series: z.enum(SERIES),
    fromStep: z.number().int().min(0).max(INT_COLUMN_MAX),
    toStep: z.number().int().min(0).max(INT_COLUMN_MAX),
    columns: z.number().int().min(1).max(RANGE_MAX_COLUMNS),
  })
  .refine((r) => r.toStep >= r.fromStep, {
    message: 'toStep must be at least fromStep',
    path: ['toStep'],
  });

/**
 * The answer: raw points (every one in the range, all series) when the range holds few enough,
 * else buckets of one width holding the series asked for. It covers what is stored up to
 * `upToSeq`; points a watcher has live beyond it are newer.
 */
export type SeriesRange = {
  runId: string;
  series: SeriesName;
  fromStep: number;
  toStep: number;
  upToSeq: number;
} & ({ kind: 'raw'; points: PointColumns } | { kind: 'buckets'; buckets: BucketColumns });

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a #rrggbb colour');

/**
 * A tag: a word or two, kept as written ("Live Demo"). Tags compare without regard to case
 * ({@link tagKey}): "Baseline" and "baseline" are one tag, on a run and in the list's filter.
 * A refusal quotes the tag, so a person sees which of several is wrong.
 */
export const tagSchema = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,31}$/u, {
    error: (issue) =>
      `${JSON.stringify(String(issue.input ?? '').slice(0, 40))} is not a tag: a tag is 1–32 letters, digits, spaces, _ . or -, starting with a letter or digit`,
  });
/** What a tag is compared and filtered by: its lower-case form. */
export function tagKey(tag: string): string {
  return tag.toLowerCase();
}
/** Tags once each without regard to case, the first spelling kept. */
export function uniqueTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  return tags.filter((t) => !seen.has(tagKey(t)) && Boolean(seen.add(tagKey(t))));
}
export const MAX_TAGS = 20;
export const MAX_DESCRIPTION_CHARS = 10_000;
export const runNameSchema = z
  .string()
  .trim()
  .min(1, 'a name needs at least one character')
  .max(MAX_RUN_NAME_CHARS, `a name has at most ${MAX_RUN_NAME_CHARS} characters`);

/** What people may change about a run (`run:edit`, `PATCH /api/runs/:id`): at least one field. */
export const runEditSchema = z
  .object({
    name: runNameSchema.optional(),
    description: z
      .string()
      .max(
        MAX_DESCRIPTION_CHARS,
        `a description has at most ${MAX_DESCRIPTION_CHARS.toLocaleString('en-US')} characters`,
      )
      .optional(),
    tags: z
      .array(tagSchema)
      .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
      .transform(uniqueTags)
      .optional(),
  })
  .refine(
    (e) => e.name !== undefined || e.description !== undefined || e.tags !== undefined,
    'nothing to change: give a name, a description or tags',
  );
/** Deleting a run for good: the person types its name again. */
export const runDeleteSchema = z.object({ confirmName: z.string().max(200) });

/**
 * A run to start (socket `run:start` and `POST /api/runs`): each field on its own. The rules
 * across fields and the data set (trainer/config.ts crossFieldIssues) need the hub's data set
 * sizes, so the hub checks them when it starts the run; {@link runStartIssues} gives them with
 * the payload's paths.
 */
export const runStartSchema = z.object({
  name: runNameSchema.optional(),
  hyperparams: hyperparamsSchema.default(hyperparamsSchema.parse({})),
  reporting: reportingSchema.partial().optional(),
});

/** A run's cross-field problems as `{ "hyperparams.<field>": message }`, every field that causes one named; empty when none. */
export function runStartIssues(
  hyperparams: Hyperparams,
  sizes: DatasetSizes,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of crossFieldIssues(hyperparams, sizes))
    for (const field of issue.fields) out[`hyperparams.${field}`] ??= issue.message;
  return out;
}

/** The most runs one `runs:manage` changes (the runs page holds 50 a page). */
const MAX_RUNS_PER_MANAGE = 200;
/**
 * Several runs changed at once (`runs:manage`, `POST /api/runs/manage`), each as its own
 * command would: archive, restore, add or remove tags, or delete for good, which needs the
 * number of runs typed again. Each run gets its own result, so a partial failure says which.
 */
export const runsManageSchema = z
  .object({
    runIds: z
      .array(runIdSchema)
      .min(1, 'tick at least one run')
      .max(MAX_RUNS_PER_MANAGE, `at most ${MAX_RUNS_PER_MANAGE} runs at once`)
      .refine((ids) => new Set(ids).size === ids.length, 'each run once'),
    action: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('archive') }),
      z.object({ kind: z.literal('restore') }),
      z
        .object({
          kind: z.literal('tag'),
          add: z.array(tagSchema).max(MAX_TAGS).default([]),
          remove: z.array(tagSchema).max(MAX_TAGS).default([]),
        })
        .refine((a) => a.add.length + a.remove.length > 0, {
          message: 'give tags to add or to remove',
          path: ['add'],
        }),
      z.object({
        kind: z.literal('delete'),
        confirmCount: z.number().int().min(0).max(MAX_RUNS_PER_MANAGE),
      }),
    ]),
  })
  .superRefine((m, ctx) => {
    if (m.action.kind === 'delete' && m.action.confirmCount !== m.runIds.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['action', 'confirmCount'],
        message: `type the number of runs ticked, ${m.runIds.length}, to delete them and everything stored of them`,
      });
    }
  });
export type RunsManageAction = z.infer<typeof runsManageSchema>['action'];
/** One run's outcome of `runs:manage`: its new summary (null once deleted), or why it was not changed. */
export type RunManageResult =
  | { runId: string; ok: true; run: RunSummary | null }
  | { runId: string; ok: false; error: ErrorCode; message: string };

export const browserSchemas = {
  hello: z.object({
    name: z.string().trim().min(1).max(MAX_NAME_CHARS),
    /**
     * The id and credential the hub gave this browser (kept in localStorage) so edits stay
     * "yours" across reloads; an id without its credential gets a new participant.
     */
    participantId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,64}$/)
      .optional(),
    credential: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,128}$/)
      .optional(),
    colour: colour.optional(),
  }),
  'run:watch': z.object({
    runId: runIdSchema,
    afterSeq: z.number().int().min(0).max(INT_COLUMN_MAX).optional(),
  }),
  'run:unwatch': z.object({ runId: runIdSchema }),
  'run:start': runStartSchema,
  'run:stop': z.object({ runId: runIdSchema }),
  'run:pause': z.object({ runId: runIdSchema }),
  'run:resume': z.object({ runId: runIdSchema }),
  'run:set-lr': z.object({
    runId: runIdSchema,
    learningRate: hyperparamsSchema.shape.learningRate.unwrap(),
  }),
  'run:edit': z.intersection(z.object({ runId: runIdSchema }), runEditSchema),
  'run:archive': z.object({ runId: runIdSchema }),
  'run:restore': z.object({ runId: runIdSchema }),
  'run:delete': runDeleteSchema.extend({ runId: runIdSchema }),
  'runs:manage': runsManageSchema,
  'run:series': seriesRangeSchema,
  'annotation:add': z.object({
    runId: runIdSchema,
    step: z.number().int().min(0).max(INT_COLUMN_MAX),
    text: z.string().trim().min(1).max(MAX_ANNOTATION_CHARS),
  }),
  'annotation:edit': z.object({
    id: z.number().int().min(1).max(INT_COLUMN_MAX),
    text: z.string().trim().min(1).max(MAX_ANNOTATION_CHARS),
  }),
  'annotation:delete': z.object({ id: z.number().int().min(1).max(INT_COLUMN_MAX) }),
} as const;

export type BrowserCommand = keyof typeof browserSchemas;
export type BrowserPayload<K extends BrowserCommand> = z.input<(typeof browserSchemas)[K]>;
/** A command's payload as its schema gives it back (defaults filled in, text trimmed). */
export type BrowserInput<K extends BrowserCommand> = z.output<(typeof browserSchemas)[K]>;

/** What each command's ack carries on success. */
export interface BrowserAckData {
  /**
   * `tokenRequired`: the hub asks for the team token (so the page offers to sign out).
   * `dataset`: the sizes of the data set the hub's runs train on (the start form's limits);
   * null when the hub cannot read it.
   */
  hello: {
    participant: Participant;
    credential: string;
    protocolVersion: number;
    tokenRequired: boolean;
    dataset: DatasetSizes | null;
  };
  'run:watch': RunSnapshot;
  'run:series': SeriesRange;
  'run:unwatch': { runId: string };
  'run:start': { run: RunSummary };
  'run:stop': { run: RunSummary };
  'run:pause': { run: RunSummary };
  'run:resume': { run: RunSummary };
  'run:set-lr': { run: RunSummary };
  'run:edit': { run: RunSummary };
  'run:archive': { run: RunSummary };
  'run:restore': { run: RunSummary };
  'run:delete': { runId: string };
  'runs:manage': { results: RunManageResult[] };
  'annotation:add': { annotation: WireAnnotation };
  'annotation:edit': { annotation: WireAnnotation };
  'annotation:delete': { id: number };
}

type Nothing<T extends never> = T;
/** Compiles only while {@link BrowserAckData} has an entry for exactly the commands of {@link browserSchemas}. */
export type BrowserAcksListed = Nothing<Exclude<keyof BrowserAckData, BrowserCommand>>;

export type ClientToServerEvents = {
  [K in BrowserCommand]: (payload: BrowserPayload<K>, ack: Ack<BrowserAckData[K]>) => void;
};
