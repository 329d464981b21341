/**
 * Why a trainer daemon refused a job or a control command (its `rejected` report): a payload
 * that is not valid, a run it does not hold, a run it already holds, a command it cannot apply.
 * Declared with the daemon (which raises them) and re-exported by the protocol, so that the
 * daemon needs nothing of the protocol.
 */
export const DAEMON_ERROR_CODES = [
  'INVALID',
  'UNKNOWN_RUN',
  'DUPLICATE_RUN',
  'BAD_CONTROL',
] as const;
export type DaemonErrorCode = (typeof DAEMON_ERROR_CODES)[number];
