/** People as coloured initials with their names on hover and for screen readers. */
import type { PresenceUser } from '../../server/protocol';

export function PresenceList({
  users,
  label,
  meId,
}: {
  users: readonly PresenceUser[];
  label: string;
  meId: string | null;
}) {
  return (
    <div
      className="presence"
      aria-label={`${label}: ${users.map((u) => u.name).join(', ') || 'nobody'}`}
    >
      <span className="presence-label">{label}</span>
      <ul>
        {users.map((u) => (
          <li
            key={u.id}
            title={u.id === meId ? `${u.name} (you)` : u.name}
            style={{ background: u.colour }}
            data-testid="presence-user"
          >
            {u.name.slice(0, 2)}
            <span className="sr-only">{u.name}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
