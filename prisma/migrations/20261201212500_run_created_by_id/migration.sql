-- AlterTable
ALTER TABLE "Run" ADD COLUMN "createdById" TEXT;
