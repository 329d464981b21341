/** Number and time formatting shared by the pages. */

export const fmtInt = (n: number | null | undefined) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
export const fmtPct = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? '–' : `${n.toFixed(digits)} %`);
export const fmtNum = (n: number | null | undefined, digits = 4) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : Number(n.toPrecision(digits)).toString());

/** "3 min 20 s", "1 h 05 min", "12 s". */
export function fmtDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** "14:05:09" today, else "28 Nov 14:05". */
export function fmtTime(iso: string | number): string {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}
