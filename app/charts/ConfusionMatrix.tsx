'use client';

/**
 * The test-set confusion matrix as an SVG heatmap: rows are the true label, columns the
 * prediction, each cell coloured by its share of the row (a log-sequential blue scale, so a
 * 0.5 % confusion is as visible as a 99 % diagonal) and labelled with its count. Cells are
 * buttons: Tab reaches the grid, arrow keys move between cells (roving tabindex), Enter or
 * Space selects; the selected cell is outlined. React renders the cells; d3 only supplies
 * the colour scale.
 */
import { useRef, useState, type KeyboardEvent } from 'react';
import * as d3 from 'd3';
import './charts.css';

/** A cell of the matrix: true label and predicted class. */
export interface ConfusionCell {
  label: number;
  predicted: number;
}

/** Props of {@link ConfusionMatrix}. */
export interface ConfusionMatrixProps {
  /** `matrix[label][predicted]` counts (10 × 10 for MNIST; any square size works). */
  matrix: number[][];
  selected?: ConfusionCell | null;
  onSelect?: (cell: ConfusionCell) => void;
  /** Width and height in CSS pixels, default 360; in a narrower container it scales down to fit. */
  size?: number;
}

const MARGIN = { left: 42, top: 38, right: 4, bottom: 4 };
// Log scale over the row share; the lightest 8 % of Blues is skipped so tiny shares still
// differ from the empty (zero) cells.
const colour = d3
  .scaleSequentialLog((t: number) => d3.interpolateBlues(0.08 + 0.92 * t))
  .domain([0.0005, 1])
  .clamp(true);

/** Colour, text colour and share of one cell. */
function cellStyle(
  count: number,
  rowSum: number,
): { fill: string | null; ink: string; share: number } {
  const share = rowSum > 0 ? count / rowSum : 0;
  if (count <= 0) return { fill: null, ink: '', share };
  const fill = colour(share);
  return { fill, ink: d3.lab(fill).l < 62 ? '#ffffff' : '#0b1f33', share };
}

/** Percent with just enough digits for small shares. */
function percent(share: number): string {
  return share >= 0.1
    ? `${(share * 100).toFixed(0)}%`
    : share >= 0.01
      ? `${(share * 100).toFixed(1)}%`
      : `${(share * 100).toFixed(2)}%`;
}

/** 10 × 10 heatmap of true label vs prediction with keyboard-reachable cells. */
export function ConfusionMatrix({
  matrix,
  selected = null,
  onSelect,
  size = 360,
}: ConfusionMatrixProps) {
  const n = matrix.length;
  const cell = (size - MARGIN.left - MARGIN.right) / Math.max(1, n);
  const svgRef = useRef<SVGSVGElement>(null);
  const [focus, setFocus] = useState<ConfusionCell>(selected ?? { label: 0, predicted: 0 });
  const font = Math.max(8, Math.min(12, cell * 0.34));
  const total = matrix.reduce((a, row) => a + row.reduce((b, v) => b + v, 0), 0);
  const correct = matrix.reduce((a, row, i) => a + (row[i] ?? 0), 0);

  const move = (e: KeyboardEvent<SVGGElement>, at: ConfusionCell): void => {
    const d: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      Home: [0, -n],
      End: [0, n],
    };
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect?.(at);
      return;
    }
    const step = d[e.key];
    if (!step) return;
    e.preventDefault();
    const next = {
      label: Math.min(n - 1, Math.max(0, at.label + step[0])),
      predicted: Math.min(n - 1, Math.max(0, at.predicted + step[1])),
    };
    setFocus(next);
    svgRef.current
      ?.querySelector<SVGGElement>(`[data-cell="${next.label}-${next.predicted}"]`)
      ?.focus();
  };

  const cells = matrix.flatMap((row, label) => {
    const rowSum = row.reduce((a, v) => a + v, 0);
    return row.map((count, predicted) => {
      const { fill, ink, share } = cellStyle(count, rowSum);
      const isFocus = focus.label === label && focus.predicted === predicted;
      const isSelected = selected?.label === label && selected?.predicted === predicted;
      const x = MARGIN.left + predicted * cell;
      const y = MARGIN.top + label * cell;
      return (
        <g
          key={`${label}-${predicted}`}
          data-cell={`${label}-${predicted}`}
          className={`lt-cm-cell${label === predicted ? ' lt-cm-diagonal' : ''}${count === 0 ? ' lt-cm-zero' : ''}`}
          role="button"
          tabIndex={isFocus ? 0 : -1}
          aria-pressed={isSelected}
          aria-label={`true ${label} predicted ${predicted}: ${count} ${count === 1 ? 'digit' : 'digits'}${rowSum > 0 ? `, ${percent(share)} of true ${label}s` : ''}`}
          onClick={() => {
            setFocus({ label, predicted });
            onSelect?.({ label, predicted });
          }}
          onKeyDown={(e) => move(e, { label, predicted })}
          onFocus={() => setFocus({ label, predicted })}
        >
          <title>{`true ${label} → predicted ${predicted}: ${count} (${percent(share)} of row)`}</title>
          <rect
            x={x + 0.5}
            y={y + 0.5}
            width={cell - 1}
            height={cell - 1}
            style={fill ? { fill } : undefined}
          />
          <text
            x={x + cell / 2}
            y={y + cell / 2}
            style={{ fontSize: font, fill: ink || undefined }}
          >
            {count}
          </text>
        </g>
      );
    });
  });

  const sel = selected && selected.label < n && selected.predicted < n ? selected : null;
  return (
    <svg
      ref={svgRef}
      className="lt-confusion"
      width={size}
      height={size}
      viewBox={`0 0 ${size} ${size}`}
      role="group"
      aria-label={`Confusion matrix, rows true label, columns predicted; ${correct} of ${total} test digits on the diagonal`}
    >
      <text className="lt-axis-title" x={MARGIN.left + (n * cell) / 2} y={11}>
        predicted
      </text>
      <text
        className="lt-axis-title"
        transform={`translate(11,${MARGIN.top + (n * cell) / 2}) rotate(-90)`}
      >
        true label
      </text>
      {matrix.map((_, i) => (
        <g key={i} className="lt-cm-tick" aria-hidden="true">
          <text x={MARGIN.left + (i + 0.5) * cell} y={MARGIN.top - 8}>
            {i}
          </text>
          <text x={MARGIN.left - 10} y={MARGIN.top + (i + 0.5) * cell}>
            {i}
          </text>
        </g>
      ))}
      {cells}
      {sel ? (
        <rect
          className="lt-cm-selected"
          x={MARGIN.left + sel.predicted * cell + 1}
          y={MARGIN.top + sel.label * cell + 1}
          width={cell - 2}
          height={cell - 2}
          aria-hidden="true"
        />
      ) : null}
    </svg>
  );
}
