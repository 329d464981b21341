-- CreateTable
CREATE TABLE "Run" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "hyperparams" JSONB NOT NULL,
    "reporting" JSONB,
    "status" TEXT NOT NULL,
    "statusMessage" TEXT,
    "backend" TEXT,
    "device" TEXT,
    "trainerHost" TEXT,
    "trainerId" TEXT,
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "endedAt" DATETIME,
    "updatedAt" DATETIME NOT NULL,
    "trainSize" INTEGER,
    "testSize" INTEGER,
    "batchesPerEpoch" INTEGER,
    "totalSteps" INTEGER,
    "lastStep" INTEGER NOT NULL DEFAULT 0,
    "lastSeq" INTEGER NOT NULL DEFAULT 0,
    "finalTrainLoss" REAL,
    "finalTrainAccuracy" REAL,
    "finalTestLoss" REAL,
    "finalTestAccuracy" REAL,
    "samplesPerSec" REAL
);

-- CreateTable
CREATE TABLE "BatchMetric" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "batch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "loss" REAL NOT NULL,
    "accuracy" REAL NOT NULL,
    "learningRate" REAL NOT NULL,
    "samplesPerSec" REAL NOT NULL,
    "time" REAL NOT NULL,

    PRIMARY KEY ("runId", "seq"),
    CONSTRAINT "BatchMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "EpochMetric" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "trainLoss" REAL,
    "trainAccuracy" REAL,
    "testLoss" REAL NOT NULL,
    "testAccuracy" REAL NOT NULL,
    "samplesPerSec" REAL NOT NULL,
    "trainMs" REAL NOT NULL,
    "evalMs" REAL NOT NULL,
    "time" REAL NOT NULL,

    PRIMARY KEY ("runId", "seq"),
    CONSTRAINT "EpochMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ConfusionMatrix" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "matrix" JSONB NOT NULL,

    PRIMARY KEY ("runId", "seq"),
    CONSTRAINT "ConfusionMatrix_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Misclassified" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "label" INTEGER NOT NULL,
    "predicted" INTEGER NOT NULL,
    "probabilities" JSONB NOT NULL,

    PRIMARY KEY ("runId", "seq", "index"),
    CONSTRAINT "Misclassified_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PredictionPanel" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "items" JSONB NOT NULL,
    "time" REAL NOT NULL,

    PRIMARY KEY ("runId", "seq"),
    CONSTRAINT "PredictionPanel_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Checkpoint" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "trainerId" TEXT,
    "data" BLOB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Checkpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Annotation" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "runId" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "authorId" TEXT,
    "authorName" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Annotation_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AnnotationEdit" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "annotationId" INTEGER NOT NULL,
    "previousText" TEXT NOT NULL,
    "editedBy" TEXT NOT NULL,
    "editedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AnnotationEdit_annotationId_fkey" FOREIGN KEY ("annotationId") REFERENCES "Annotation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Participant" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "colour" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Trainer" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "host" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "device" TEXT NOT NULL,
    "concurrency" INTEGER NOT NULL,
    "connectedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "Run_createdAt_idx" ON "Run"("createdAt");

-- CreateIndex
CREATE INDEX "Run_status_idx" ON "Run"("status");

-- CreateIndex
CREATE INDEX "EpochMetric_runId_epoch_idx" ON "EpochMetric"("runId", "epoch");

-- CreateIndex
CREATE INDEX "ConfusionMatrix_runId_epoch_idx" ON "ConfusionMatrix"("runId", "epoch");

-- CreateIndex
CREATE INDEX "Misclassified_runId_epoch_idx" ON "Misclassified"("runId", "epoch");

-- CreateIndex
CREATE UNIQUE INDEX "Checkpoint_runId_seq_key" ON "Checkpoint"("runId", "seq");

-- CreateIndex
CREATE INDEX "Annotation_runId_step_idx" ON "Annotation"("runId", "step");

-- CreateIndex
CREATE INDEX "AnnotationEdit_annotationId_idx" ON "AnnotationEdit"("annotationId");
