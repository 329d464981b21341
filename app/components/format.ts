/** Number and time formatting shared by the pages. */

export const fmtInt = (n: number | null | undefined) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
export const fmtPct = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? '–' : `${n.toFixed(digits)} %`);
export const fmtNum = (n: number | null | undefined, digits = 4) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : Number(n.toPrecision(digits)).toString());

export { formatDuration as fmtDuration } from '../../server/format';

/** "14:05:09" today, else "28 Nov 14:05". */
export function fmtTime(iso: string | number): string {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}
