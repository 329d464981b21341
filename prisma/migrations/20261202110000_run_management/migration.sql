-- AlterTable
ALTER TABLE "Run" ADD COLUMN "archivedAt" DATETIME;
ALTER TABLE "Run" ADD COLUMN "description" TEXT NOT NULL DEFAULT '';
ALTER TABLE "Run" ADD COLUMN "tags" JSONB;

-- CreateIndex
CREATE INDEX "Run_archivedAt_idx" ON "Run"("archivedAt");
