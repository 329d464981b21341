/**
 * The live protocol, one module per audience behind this index: the envelope and error codes
 * (`envelope.ts`), what watchers receive (`stream.ts`), browser commands (`browser.ts`), the
 * trainer namespace (`trainer.ts`) and the HTTP API's bodies (`http.ts`). The hub, the trainer
 * agent and the dashboard import it from here; docs/protocol.md is its prose. Browsers use the
 * default namespace, trainers `/trainer`; both send {@link PROTOCOL_VERSION} in the handshake
 * and the hub refuses others. The runs list's query parser lives with the runs list
 * (server/hub/storage/runsQuery.ts), the messages hubs exchange with the cluster
 * (server/hub/cluster/relay.ts).
 */
export * from './envelope';
export * from './stream';
export * from './browser';
export * from './trainer';
export * from './http';

export type { BackendInfo, BatchPoint, DigitPrediction, EpochSummary } from '../trainer/events';
export { assertNever } from '../trainer/events';
/** Which hyperparameters each optimizer reads (the dashboard shows only those). */
export {
  describeHyperparamIssue,
  HYPERPARAM_BOUNDS,
  HYPERPARAM_RULES,
  OPTIMIZER_PARAMS,
  optimizerReads,
} from '../trainer/config';
export { MAX_RUN_NAME_CHARS, type DatasetSizes } from '../trainer/config';
