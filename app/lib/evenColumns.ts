import type { CSSProperties } from 'react';

/** How many columns n cells take where a row holds at most `most`: as few rows as that allows, filled evenly. */
export function columnsFor(n: number, most: number): number {
  if (n <= 0) return 1;
  return Math.ceil(n / Math.ceil(n / most));
}

/**
 * The prediction grid's column counts at each container width's most (2, 4, 8, see digits.css),
 * as the CSS variables it reads: 16 digits → 8 × 2, ten → 5 + 5 (not 8 + 2), seven at most
 * four a row → 4 + 3.
 */
export function evenColumns(n: number): CSSProperties {
  return {
    '--columns-2': columnsFor(n, 2),
    '--columns-4': columnsFor(n, 4),
    '--columns-8': columnsFor(n, 8),
  } as CSSProperties;
}
