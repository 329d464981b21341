-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "currentLearningRate" DOUBLE PRECISION NOT NULL DEFAULT 0.01,
ADD COLUMN     "hpBatchSize" INTEGER NOT NULL DEFAULT 32,
ADD COLUMN     "hpEpochs" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "hpOptimizer" TEXT NOT NULL DEFAULT 'sgd',
ADD COLUMN     "hpSeed" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "lastLoss" DOUBLE PRECISION,
ADD COLUMN     "progress" DOUBLE PRECISION,
ADD COLUMN     "searchText" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "sortCreator" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "sortName" TEXT NOT NULL DEFAULT '';

-- DropIndex
DROP INDEX "Run_archivedAt_idx";

-- CreateTable
CREATE TABLE "RunTag" (
    "runId" TEXT NOT NULL,
    "tag" TEXT NOT NULL,

    CONSTRAINT "RunTag_pkey" PRIMARY KEY ("runId","tag")
);

-- CreateIndex
CREATE INDEX "RunTag_tag_idx" ON "RunTag"("tag");

-- CreateIndex
CREATE INDEX "Run_sortName_id_idx" ON "Run"("sortName", "id");

-- CreateIndex
CREATE INDEX "Run_sortCreator_id_idx" ON "Run"("sortCreator", "id");

-- CreateIndex
CREATE INDEX "Run_lastLoss_id_idx" ON "Run"("lastLoss", "id");

-- CreateIndex
CREATE INDEX "Run_progress_id_idx" ON "Run"("progress", "id");

-- CreateIndex
CREATE INDEX "Run_currentLearningRate_id_idx" ON "Run"("currentLearningRate", "id");

-- CreateIndex
CREATE INDEX "Run_finalTestAccuracy_id_idx" ON "Run"("finalTestAccuracy", "id");

-- CreateIndex
CREATE INDEX "Run_backend_id_idx" ON "Run"("backend", "id");

-- CreateIndex
CREATE INDEX "Run_hpEpochs_id_idx" ON "Run"("hpEpochs", "id");

-- CreateIndex
CREATE INDEX "Run_hpBatchSize_id_idx" ON "Run"("hpBatchSize", "id");

-- CreateIndex
CREATE INDEX "Run_hpOptimizer_id_idx" ON "Run"("hpOptimizer", "id");

-- CreateIndex
CREATE INDEX "Run_hpSeed_id_idx" ON "Run"("hpSeed", "id");

-- AddForeignKey
ALTER TABLE "RunTag" ADD CONSTRAINT "RunTag_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Fill the new columns for the runs stored before them, as server/hub/storage/runList.ts
-- derives them: a hyperparameter missing from the JSON (or of the wrong type) takes its default
-- (server/trainer/config.ts), as the run shows it.
UPDATE "Run" SET
    "sortName" = lower("name"),
    "sortCreator" = lower("createdBy"),
    "searchText" = replace(replace(replace(lower(concat_ws(E'\n',
        "name", "description",
        COALESCE((SELECT string_agg("e"."v" #>> '{}', E'\n' ORDER BY "e"."n") FROM jsonb_array_elements(CASE WHEN jsonb_typeof("Run"."tags") = 'array' THEN "Run"."tags" ELSE '[]'::jsonb END) WITH ORDINALITY AS "e"("v", "n") WHERE jsonb_typeof("e"."v") = 'string'), ''),
        "createdBy", "id")), '\', chr(57346)), '%', chr(57344)), '_', chr(57345)),
    "lastLoss" = (SELECT "b"."loss" FROM "BatchMetric" AS "b" WHERE "b"."runId" = "Run"."id" AND "b"."loss" IS NOT NULL ORDER BY "b"."step" DESC, "b"."seq" DESC LIMIT 1),
    "progress" = CASE WHEN "totalSteps" > 0 THEN "lastStep"::DOUBLE PRECISION / "totalSteps" END,
    "currentLearningRate" = COALESCE(
        CASE WHEN jsonb_typeof("learningRates" -> -1 -> 'value') = 'number' THEN ("learningRates" -> -1 ->> 'value')::DOUBLE PRECISION END,
        CASE WHEN jsonb_typeof("hyperparams" -> 'learningRate') = 'number' THEN ("hyperparams" ->> 'learningRate')::DOUBLE PRECISION END,
        0.01),
    "hpEpochs" = COALESCE(CASE WHEN jsonb_typeof("hyperparams" -> 'epochs') = 'number' AND ("hyperparams" ->> 'epochs') ~ '^[0-9]{1,4}$' THEN CASE WHEN ("hyperparams" ->> 'epochs')::BIGINT BETWEEN 1 AND 1000 THEN ("hyperparams" ->> 'epochs')::INTEGER END END, 1),
    "hpBatchSize" = COALESCE(CASE WHEN jsonb_typeof("hyperparams" -> 'batchSize') = 'number' AND ("hyperparams" ->> 'batchSize') ~ '^[0-9]{1,4}$' THEN CASE WHEN ("hyperparams" ->> 'batchSize')::BIGINT BETWEEN 1 AND 8192 THEN ("hyperparams" ->> 'batchSize')::INTEGER END END, 32),
    "hpOptimizer" = COALESCE(CASE WHEN "hyperparams" ->> 'optimizer' IN ('sgd', 'adam') AND jsonb_typeof("hyperparams" -> 'optimizer') = 'string' THEN "hyperparams" ->> 'optimizer' END, 'sgd'),
    "hpSeed" = COALESCE(CASE WHEN jsonb_typeof("hyperparams" -> 'seed') = 'number' AND ("hyperparams" ->> 'seed') ~ '^[0-9]{1,10}$' THEN CASE WHEN ("hyperparams" ->> 'seed')::BIGINT BETWEEN 0 AND 2147483647 THEN ("hyperparams" ->> 'seed')::INTEGER END END, 1);

INSERT INTO "RunTag" ("runId", "tag")
SELECT DISTINCT "Run"."id", "e"."v" #>> '{}'
FROM "Run", jsonb_array_elements(CASE WHEN jsonb_typeof("Run"."tags") = 'array' THEN "Run"."tags" ELSE '[]'::jsonb END) AS "e"("v")
WHERE jsonb_typeof("e"."v") = 'string';
