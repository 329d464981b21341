'use client';
/**
 * The live prediction panel: the trainer's fixed test digits with what the model currently
 * makes of each (predicted class and probabilities), updated every few hundred milliseconds
 * while the run trains. Wrong predictions are outlined in red.
 */
import { memo } from 'react';
import { evenColumns } from '../lib/evenColumns';
import type { DigitPrediction, WirePredictions } from '../../server/protocol';
import { useDigits, type Digit } from '../lib/digits';
import { DigitImage } from './DigitImage';
import { confidenceOf, ProbabilityBars } from './ProbabilityBars';
import './digits.css';

/** Props of {@link PredictionPanel}. */
export interface PredictionPanelProps {
  /** The latest panel of the run (`RunSnapshot.predictions`, then `run:predictions`); null before the first. */
  panel: WirePredictions | null;
}

const CELL_IMAGE = 56;

const PanelCell = memo(function PanelCell({
  item,
  digit,
}: {
  item: DigitPrediction;
  digit: Digit | undefined;
}) {
  const wrong = item.probabilities !== null && item.predicted !== item.label;
  return (
    <li className={`prediction-cell${wrong ? ' prediction-cell--wrong' : ''}`}>
      <DigitImage
        pixels={digit?.pixels ?? null}
        size={CELL_IMAGE}
        label={`test digit ${item.index}, a ${item.label}`}
        highlight={wrong ? 'wrong' : null}
      />
      <span
        className="prediction-cell__verdict"
        title={`true label ${item.label}, predicted ${item.predicted} at ${confidenceOf(item.probabilities, item.predicted)}`}
      >
        <span aria-hidden="true">→ </span>
        <strong>{item.predicted}</strong>
        {wrong && <span className="prediction-cell__truth"> (is {item.label})</span>}
      </span>
      <ProbabilityBars
        probabilities={item.probabilities}
        predicted={item.predicted}
        label={item.label}
        compact
      />
    </li>
  );
});

/**
 * A grid of the run's fixed test digits, each with its image, predicted label and compact
 * probability bars, captioned with the step and epoch the predictions were made at.
 */
export function PredictionPanel({ panel }: PredictionPanelProps) {
  const items = panel?.items ?? [];
  // The panel's digits are the same every time: useDigits keys on the indices, so they are
  // fetched once however often the panel updates.
  const { digits, error } = useDigits(items.map((i) => i.index));

  if (!panel) {
    return (
      <section className="prediction-panel" aria-label="Live predictions">
        <p className="muted prediction-panel__empty">
          No predictions yet. Once training starts, the model&apos;s guesses for a fixed set of test
          digits appear here and change as it learns.
        </p>
      </section>
    );
  }

  const right = items.filter((i) => i.predicted === i.label).length;
  return (
    <section className="prediction-panel" aria-label="Live predictions">
      <p className="prediction-panel__caption">
        <span>
          step {panel.step} · epoch {panel.epoch}
        </span>
        <span className="muted">
          {right} of {items.length} right
        </span>
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <ul className="prediction-grid" style={evenColumns(items.length)}>
        {items.map((item) => (
          <PanelCell key={item.index} item={item} digit={digits.get(item.index)} />
        ))}
      </ul>
    </section>
  );
}
