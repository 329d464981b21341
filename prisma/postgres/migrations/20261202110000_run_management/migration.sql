-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "archivedAt" TIMESTAMP(3),
ADD COLUMN     "description" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "tags" JSONB;

-- CreateIndex
CREATE INDEX "Run_archivedAt_idx" ON "Run"("archivedAt");
