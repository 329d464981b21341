'use client';
/** The browser tab's title for this page: `<what> · Livetrain` (tabs and history tell runs apart). */
import { useEffect } from 'react';

export function usePageTitle(what: string | null): void {
  useEffect(() => {
    const before = document.title;
    document.title = what ? `${what} · Livetrain` : 'Livetrain';
    return () => {
      document.title = before;
    };
  }, [what]);
}
