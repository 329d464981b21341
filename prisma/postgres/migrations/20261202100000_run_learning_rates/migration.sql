-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "learningRates" JSONB;
