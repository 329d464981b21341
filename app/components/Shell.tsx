'use client';
/**
 * The frame around every page: the hub connection, the top bar (navigation, who is online,
 * connection state) and the display-name prompt on a first visit.
 */
import Link from 'next/link';
import type { ReactNode } from 'react';
import { HubProvider, useHub } from '../lib/HubProvider';
import { NamePrompt } from './NamePrompt';
import { PresenceList } from './PresenceList';

function TopBar() {
  const { connected, online, me, problem, databaseAway, name, tokenRequired } = useHub();
  return (
    <>
      <header className="topbar">
        <Link href="/" className="brand">
          Livetrain
        </Link>
        <nav aria-label="Main">
          <Link href="/">Runs</Link>
          <Link href="/compare">Compare</Link>
        </nav>
        <div className="topbar-right">
          <PresenceList users={online} label="Online" meId={me?.id ?? null} />
          <span
            className={`conn ${connected ? 'conn-on' : 'conn-off'}`}
            role="status"
            aria-live="polite"
          >
            {connected ? 'live' : 'offline'}
          </span>
          {tokenRequired ? (
            <form method="post" action="/logout" className="signout">
              <button type="submit" className="link-button">
                Sign out
              </button>
            </form>
          ) : null}
        </div>
      </header>
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
      {databaseAway ? (
        <div className="banner banner-warning" role="status" data-testid="database-away">
          The hub cannot reach its database (since{' '}
          {new Date(databaseAway.since).toLocaleTimeString()}): what you see stays live but is not
          being saved, and new pages cannot load. Trainers keep their results and send them again
          once it is back; nothing is lost.
        </div>
      ) : null}
      {name === null ? <NamePrompt /> : null}
    </>
  );
}

export function Shell({ children }: { children: ReactNode }) {
  return (
    <HubProvider>
      <TopBar />
      {children}
    </HubProvider>
  );
}
