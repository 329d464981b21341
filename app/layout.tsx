import type { Metadata } from 'next/types';
import type { ReactNode } from 'react';
import './globals.css';

/** Document metadata shared by every page of the dashboard. */
export const metadata: Metadata = {
  title: 'Livetrain',
  description: 'Watch an MNIST CNN learn, live, together.',
};

/** Root layout: the html/body shell every dashboard page renders inside. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
