import { RunPage } from '../../components/RunPage';

/** A run (`/runs/[id]`), live while it trains and for review afterwards. */
export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return (
    <main className="wide">
      <RunPage runId={id} />
    </main>
  );
}
