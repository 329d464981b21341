-- AlterTable
ALTER TABLE "Annotation" ADD COLUMN     "seq" INTEGER;

-- AlterTable
ALTER TABLE "BatchMetric" ALTER COLUMN "loss" DROP NOT NULL,
ALTER COLUMN "accuracy" DROP NOT NULL;

-- AlterTable
ALTER TABLE "EpochMetric" ALTER COLUMN "testLoss" DROP NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "Annotation_runId_seq_key" ON "Annotation"("runId", "seq");
