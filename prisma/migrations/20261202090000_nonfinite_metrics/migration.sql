-- AlterTable
ALTER TABLE "Annotation" ADD COLUMN "seq" INTEGER;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_BatchMetric" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "batch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "loss" REAL,
    "accuracy" REAL,
    "learningRate" REAL NOT NULL,
    "samplesPerSec" REAL NOT NULL,
    "time" REAL NOT NULL,

    PRIMARY KEY ("runId", "seq"),
    CONSTRAINT "BatchMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_BatchMetric" ("accuracy", "batch", "epoch", "learningRate", "loss", "runId", "samplesPerSec", "seq", "step", "time") SELECT "accuracy", "batch", "epoch", "learningRate", "loss", "runId", "samplesPerSec", "seq", "step", "time" FROM "BatchMetric";
DROP TABLE "BatchMetric";
ALTER TABLE "new_BatchMetric" RENAME TO "BatchMetric";
CREATE TABLE "new_EpochMetric" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "trainLoss" REAL,
    "trainAccuracy" REAL,
    "testLoss" REAL,
    "testAccuracy" REAL NOT NULL,
    "samplesPerSec" REAL NOT NULL,
    "trainMs" REAL NOT NULL,
    "evalMs" REAL NOT NULL,
    "time" REAL NOT NULL,

    PRIMARY KEY ("runId", "seq"),
    CONSTRAINT "EpochMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_EpochMetric" ("epoch", "evalMs", "runId", "samplesPerSec", "seq", "step", "testAccuracy", "testLoss", "time", "trainAccuracy", "trainLoss", "trainMs") SELECT "epoch", "evalMs", "runId", "samplesPerSec", "seq", "step", "testAccuracy", "testLoss", "time", "trainAccuracy", "trainLoss", "trainMs" FROM "EpochMetric";
DROP TABLE "EpochMetric";
ALTER TABLE "new_EpochMetric" RENAME TO "EpochMetric";
CREATE INDEX "EpochMetric_runId_epoch_idx" ON "EpochMetric"("runId", "epoch");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "Annotation_runId_seq_key" ON "Annotation"("runId", "seq");
