import { ComparePage } from '../components/ComparePage';

/** Compare (`/compare?runs=a,b,c`). */
export default async function Page({
  searchParams,
}: {
  searchParams: Promise<{ runs?: string | string[] }>;
}) {
  const { runs } = await searchParams;
  const ids = (Array.isArray(runs) ? runs.join(',') : (runs ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (
    <main className="wide">
      <ComparePage ids={ids} />
    </main>
  );
}
