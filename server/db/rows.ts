/**
 * The stored rows, as the hub's storage layer reads them. They are the SQLite client's model
 * types, and the checks below make the compiler prove that the PostgreSQL client's are the
 * very same, so nothing typed with them is SQLite-only.
 */
import type * as Pg from './generated/postgres/client';
import type * as Sqlite from './generated/sqlite/client';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;

export type RunRow = Sqlite.Run;
export type RunTagRow = Sqlite.RunTag;
export type BatchMetricRow = Sqlite.BatchMetric;
export type EpochMetricRow = Sqlite.EpochMetric;
export type ConfusionMatrixRow = Sqlite.ConfusionMatrix;
export type MisclassifiedRow = Sqlite.Misclassified;
export type PredictionPanelRow = Sqlite.PredictionPanel;
export type CheckpointRow = Sqlite.Checkpoint;
export type AnnotationRow = Sqlite.Annotation;
export type AnnotationEditRow = Sqlite.AnnotationEdit;
export type ParticipantRow = Sqlite.Participant;
export type TrainerRow = Sqlite.Trainer;
export type HubSecretRow = Sqlite.HubSecret;
/**
 * Fields of a Run row that an update may set: the scalars, and the learning-rate history
 * (written whole; other JSON columns are written elsewhere).
 */
export type RunUpdate = Partial<
  Omit<RunRow, 'id' | 'hyperparams' | 'reporting' | 'createdAt' | 'learningRates' | 'tags'>
> & {
  learningRates?: Array<{ step: number; value: number }>;
};
export type CheckpointInsert = Sqlite.Prisma.CheckpointCreateManyInput;

/** Compiles only while each SQLite row type equals PostgreSQL's. @public */
export type RowsAgree = [
  Check<Same<RunRow, Pg.Run>>,
  Check<Same<RunTagRow, Pg.RunTag>>,
  Check<Same<BatchMetricRow, Pg.BatchMetric>>,
  Check<Same<EpochMetricRow, Pg.EpochMetric>>,
  Check<Same<ConfusionMatrixRow, Pg.ConfusionMatrix>>,
  Check<Same<MisclassifiedRow, Pg.Misclassified>>,
  Check<Same<PredictionPanelRow, Pg.PredictionPanel>>,
  Check<Same<CheckpointRow, Pg.Checkpoint>>,
  Check<Same<AnnotationRow, Pg.Annotation>>,
  Check<Same<AnnotationEditRow, Pg.AnnotationEdit>>,
  Check<Same<ParticipantRow, Pg.Participant>>,
  Check<Same<TrainerRow, Pg.Trainer>>,
  Check<Same<HubSecretRow, Pg.HubSecret>>,
  Check<Same<CheckpointInsert, Pg.Prisma.CheckpointCreateManyInput>>,
];
