/**
 * Durations as people read them, shared by the trainer's progress bar and the dashboard, and
 * the file names of downloads (a pure module: no Node, no server-only imports, so the
 * dashboard's bundle may include it).
 */

/** A clock reading: "4:05", "1:02:09"; "--:--" when there is nothing to show. */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** In words: "12 s", "3 min 20 s", "1 h 05 min"; "–" when there is nothing to show. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A run's name as part of a downloaded file's name, the same for every export (CSV, JSON, PNG,
 * SVG): letters, digits, `_`, `.` and `-` kept, any other stretch (spaces, brackets) one `_`.
 */
export function fileSlug(name: string, max = 80): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, max) || 'run';
}
