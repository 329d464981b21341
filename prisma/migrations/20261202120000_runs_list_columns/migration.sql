-- AlterTable
ALTER TABLE "Run" ADD COLUMN "currentLearningRate" REAL NOT NULL DEFAULT 0.01;
ALTER TABLE "Run" ADD COLUMN "hpBatchSize" INTEGER NOT NULL DEFAULT 32;
ALTER TABLE "Run" ADD COLUMN "hpEpochs" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "Run" ADD COLUMN "hpOptimizer" TEXT NOT NULL DEFAULT 'sgd';
ALTER TABLE "Run" ADD COLUMN "hpSeed" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "Run" ADD COLUMN "lastLoss" REAL;
ALTER TABLE "Run" ADD COLUMN "progress" REAL;
ALTER TABLE "Run" ADD COLUMN "searchText" TEXT NOT NULL DEFAULT '';
ALTER TABLE "Run" ADD COLUMN "sortCreator" TEXT NOT NULL DEFAULT '';
ALTER TABLE "Run" ADD COLUMN "sortName" TEXT NOT NULL DEFAULT '';

-- DropIndex
DROP INDEX "Run_archivedAt_idx";

-- CreateTable
CREATE TABLE "RunTag" (
    "runId" TEXT NOT NULL,
    "tag" TEXT NOT NULL,

    PRIMARY KEY ("runId", "tag"),
    CONSTRAINT "RunTag_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
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

-- Fill the new columns for the runs stored before them, as server/hub/storage/runList.ts
-- derives them: a hyperparameter missing from the JSON (or of the wrong type) takes its default
-- (server/trainer/config.ts), as the run shows it. SQLite's lower() folds ASCII letters only:
-- a name with other capitals gets its exact key when it is next edited.
UPDATE "Run" SET
    "sortName" = lower("name"),
    "sortCreator" = lower("createdBy"),
    "searchText" = replace(replace(replace(lower(
        "name" || char(10) || "description" || char(10)
        || COALESCE((SELECT group_concat("j"."value", char(10) ORDER BY "j"."key") FROM json_each("Run"."tags") AS "j" WHERE "j"."type" = 'text'), '')
        || char(10) || "createdBy" || char(10) || "id"), '\', char(57346)), '%', char(57344)), '_', char(57345)),
    "lastLoss" = (SELECT "b"."loss" FROM "BatchMetric" AS "b" WHERE "b"."runId" = "Run"."id" AND "b"."loss" IS NOT NULL ORDER BY "b"."step" DESC, "b"."seq" DESC LIMIT 1),
    "progress" = CASE WHEN "totalSteps" > 0 THEN CAST("lastStep" AS REAL) / "totalSteps" END,
    "currentLearningRate" = COALESCE(
        CASE WHEN json_type("learningRates", '$[#-1].value') IN ('real', 'integer') THEN json_extract("learningRates", '$[#-1].value') END,
        CASE WHEN json_type("hyperparams", '$.learningRate') IN ('real', 'integer') THEN json_extract("hyperparams", '$.learningRate') END,
        0.01),
    "hpEpochs" = COALESCE(CASE WHEN json_type("hyperparams", '$.epochs') = 'integer' AND json_extract("hyperparams", '$.epochs') BETWEEN 1 AND 1000 THEN json_extract("hyperparams", '$.epochs') END, 1),
    "hpBatchSize" = COALESCE(CASE WHEN json_type("hyperparams", '$.batchSize') = 'integer' AND json_extract("hyperparams", '$.batchSize') BETWEEN 1 AND 8192 THEN json_extract("hyperparams", '$.batchSize') END, 32),
    "hpOptimizer" = COALESCE(CASE WHEN json_extract("hyperparams", '$.optimizer') IN ('sgd', 'adam') THEN json_extract("hyperparams", '$.optimizer') END, 'sgd'),
    "hpSeed" = COALESCE(CASE WHEN json_type("hyperparams", '$.seed') = 'integer' AND json_extract("hyperparams", '$.seed') BETWEEN 0 AND 2147483647 THEN json_extract("hyperparams", '$.seed') END, 1);

INSERT OR IGNORE INTO "RunTag" ("runId", "tag")
SELECT "Run"."id", "j"."value" FROM "Run", json_each("Run"."tags") AS "j" WHERE "j"."type" = 'text';
