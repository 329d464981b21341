import { RunsList } from './RunsList';

/**
 * Home page (placeholder until the real dashboard lands): the title, rendered on the
 * server and prerendered at build time, and the list of runs, fetched in the browser.
 */
export default function HomePage() {
  return (
    <main>
      <h1>Livetrain</h1>
      <p className="muted">Real-time training dashboard for an MNIST CNN.</p>
      <RunsList />
    </main>
  );
}
