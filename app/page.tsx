import { RunsPage } from './components/RunsPage';

/** Runs (`/`): every run, live, and the form to start one. */
export default function HomePage() {
  return (
    <main className="wide">
      <h1 className="sr-only">Livetrain runs</h1>
      <RunsPage />
    </main>
  );
}
