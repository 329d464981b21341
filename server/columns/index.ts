/**
 * A run's batch series as M4 buckets (buckets.ts) and numbers as columns on the wire
 * (codec.ts), behind one index.
 */
export * from './buckets';
export * from './codec';
