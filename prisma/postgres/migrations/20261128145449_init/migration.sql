-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "Run" (
    "id" TEXT NOT NULL,
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
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "endedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "trainSize" INTEGER,
    "testSize" INTEGER,
    "batchesPerEpoch" INTEGER,
    "totalSteps" INTEGER,
    "lastStep" INTEGER NOT NULL DEFAULT 0,
    "lastSeq" INTEGER NOT NULL DEFAULT 0,
    "finalTrainLoss" DOUBLE PRECISION,
    "finalTrainAccuracy" DOUBLE PRECISION,
    "finalTestLoss" DOUBLE PRECISION,
    "finalTestAccuracy" DOUBLE PRECISION,
    "samplesPerSec" DOUBLE PRECISION,

    CONSTRAINT "Run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BatchMetric" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "batch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "loss" DOUBLE PRECISION NOT NULL,
    "accuracy" DOUBLE PRECISION NOT NULL,
    "learningRate" DOUBLE PRECISION NOT NULL,
    "samplesPerSec" DOUBLE PRECISION NOT NULL,
    "time" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "BatchMetric_pkey" PRIMARY KEY ("runId","seq")
);

-- CreateTable
CREATE TABLE "EpochMetric" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "trainLoss" DOUBLE PRECISION,
    "trainAccuracy" DOUBLE PRECISION,
    "testLoss" DOUBLE PRECISION NOT NULL,
    "testAccuracy" DOUBLE PRECISION NOT NULL,
    "samplesPerSec" DOUBLE PRECISION NOT NULL,
    "trainMs" DOUBLE PRECISION NOT NULL,
    "evalMs" DOUBLE PRECISION NOT NULL,
    "time" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "EpochMetric_pkey" PRIMARY KEY ("runId","seq")
);

-- CreateTable
CREATE TABLE "ConfusionMatrix" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "matrix" JSONB NOT NULL,

    CONSTRAINT "ConfusionMatrix_pkey" PRIMARY KEY ("runId","seq")
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

    CONSTRAINT "Misclassified_pkey" PRIMARY KEY ("runId","seq","index")
);

-- CreateTable
CREATE TABLE "PredictionPanel" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "items" JSONB NOT NULL,
    "time" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "PredictionPanel_pkey" PRIMARY KEY ("runId","seq")
);

-- CreateTable
CREATE TABLE "Checkpoint" (
    "id" SERIAL NOT NULL,
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "trainerId" TEXT,
    "data" BYTEA,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Checkpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Annotation" (
    "id" SERIAL NOT NULL,
    "runId" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "authorId" TEXT,
    "authorName" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Annotation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AnnotationEdit" (
    "id" SERIAL NOT NULL,
    "annotationId" INTEGER NOT NULL,
    "previousText" TEXT NOT NULL,
    "editedBy" TEXT NOT NULL,
    "editedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AnnotationEdit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Participant" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "colour" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Participant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Trainer" (
    "id" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "device" TEXT NOT NULL,
    "concurrency" INTEGER NOT NULL,
    "connectedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Trainer_pkey" PRIMARY KEY ("id")
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

-- AddForeignKey
ALTER TABLE "BatchMetric" ADD CONSTRAINT "BatchMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EpochMetric" ADD CONSTRAINT "EpochMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConfusionMatrix" ADD CONSTRAINT "ConfusionMatrix_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Misclassified" ADD CONSTRAINT "Misclassified_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PredictionPanel" ADD CONSTRAINT "PredictionPanel_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Checkpoint" ADD CONSTRAINT "Checkpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Annotation" ADD CONSTRAINT "Annotation_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AnnotationEdit" ADD CONSTRAINT "AnnotationEdit_annotationId_fkey" FOREIGN KEY ("annotationId") REFERENCES "Annotation"("id") ON DELETE CASCADE ON UPDATE CASCADE;
