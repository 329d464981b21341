/**
 * Hub ↔ hub, through Redis (several hubs on one database): the run changes hubs announce to
 * each other and the entries of a run's relay stream. Only hubs read them, so they live with
 * the cluster rather than in the protocol that browsers and trainers share.
 */
import { z } from 'zod';
import { RUN_STATUSES, wireEventSchema } from '../../protocol';
import { runIdSchema } from '../../trainer/config';

/**
 * A change one hub made to a run, announced to the others (`serverSideEmit`): their snapshots
 * of it are read again, and a hub that holds the run takes the new status or trainer.
 */
export const runChangeSchema = z.object({
  runId: runIdSchema,
  /** Set when the hub changed the run's status or trainer (not for notes). */
  status: z.enum(RUN_STATUSES).optional(),
  trainerId: z.string().max(128).nullable().optional(),
});
export type RunChange = z.infer<typeof runChangeSchema>;

export interface InterHubEvents {
  /** `hub`: the id of the hub that made the change (it ignores its own). */
  'livetrain:run': (change: RunChange & { hub: string }) => void;
}
export const interHubRunChangeSchema = runChangeSchema.extend({ hub: z.string().max(256) });

/**
 * One entry of a run's Redis stream (entry id `<seq>-0` for events, `<seq>-1` for the end):
 * `h` the hub that appended it, `s` the run's stored seq then, `e` the events (JSON), or
 * `k: 'end'` when the run's live stream ended there. Redis gives fields as strings.
 */
export const relayEntrySchema = z.union([
  z.object({ h: z.string().max(256), k: z.literal('end'), s: z.string().regex(/^\d{1,10}$/) }),
  z.object({ h: z.string().max(256), s: z.string().regex(/^\d{1,10}$/), e: z.string() }),
]);
/** The events of a relay entry (`e`, parsed from JSON). */
export const relayEventsSchema = z.array(wireEventSchema).min(1).max(10_000);
