-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "origin" TEXT NOT NULL DEFAULT 'hub',
ADD COLUMN     "originHost" TEXT;
