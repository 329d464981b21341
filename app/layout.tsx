import type { Metadata } from 'next/types';
import type { ReactNode } from 'react';
import { Shell } from './components/Shell';
import './globals.css';

/**
 * Document metadata shared by every page of the dashboard. No `title` here: each page names its
 * tab with usePageTitle, and a metadata title would be re-rendered by Next after a client-side
 * navigation (streamed metadata), putting "Livetrain" back over the run's name.
 */
export const metadata: Metadata = {
  description: 'Watch an MNIST CNN learn, live, together.',
};

/** Root layout: the hub connection and top bar around every page. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Shell>{children}</Shell>
      </body>
    </html>
  );
}
