import type { Metadata } from 'next/types';
import type { ReactNode } from 'react';
import { Shell } from './components/Shell';
import './globals.css';

/** Document metadata shared by every page of the dashboard. */
export const metadata: Metadata = {
  title: 'Livetrain',
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
