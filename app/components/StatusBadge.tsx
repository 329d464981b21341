/** A run's status as a coloured badge. */
import type { HubRunStatus } from '../../server/protocol';

export function StatusBadge({ status }: { status: HubRunStatus }) {
  return (
    <span className={`badge badge-${status}`} data-testid="run-status">
      {status}
    </span>
  );
}
