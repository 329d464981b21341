'use client';
/**
 * A digit's ten class probabilities as ten vertical bars, 0 to 9: the predicted class in the
 * accent colour (red when it is not the true label) and the true label marked under its bar.
 * Plain HTML and CSS: ten bars need no chart library. Screen readers get a sentence instead.
 */
import './digits.css';

/** Props of {@link ProbabilityBars}. */
export interface ProbabilityBarsProps {
  /** Ten probabilities, one per class 0–9, summing to 1; null when the model's outputs were not finite. */
  probabilities: readonly number[] | null;
  /** The predicted class (normally the most probable one). */
  predicted: number;
  /** The true label, when known (not for a drawn digit). */
  label?: number | null;
  /** Small bars without class numbers or percentages, for grids of digits. */
  compact?: boolean;
}

const CLASSES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/** A probability as a percentage for people: "93 %", "0.4 %", "< 0.1 %". */
export function formatPercent(p: number): string {
  const pct = p * 100;
  if (pct >= 10) return `${Math.round(pct)} %`;
  if (pct >= 0.1) return `${pct.toFixed(1)} %`;
  return pct > 0 ? '< 0.1 %' : '0 %';
}

/** What is shown instead of a prediction when the model's outputs were not finite (a diverged run). */
export const NO_PREDICTION = 'no prediction: the model’s outputs are not finite (the run diverged)';

/** The prediction's confidence for people, or "—" when there is none. */
export const confidenceOf = (probabilities: readonly number[] | null, predicted: number): string =>
  probabilities ? formatPercent(probabilities[predicted] ?? 0) : '—';

/** The sentence a screen reader reads for these bars. */
export function describeProbabilities(
  probabilities: readonly number[] | null,
  predicted: number,
  label?: number | null,
): string {
  if (!probabilities)
    return label === null || label === undefined
      ? NO_PREDICTION
      : `true label ${label}; ${NO_PREDICTION}`;
  const parts = [`predicted ${predicted} at ${formatPercent(probabilities[predicted] ?? 0)}`];
  if (label !== null && label !== undefined) {
    parts.push(
      label === predicted
        ? 'correct'
        : `true label ${label} at ${formatPercent(probabilities[label] ?? 0)}`,
    );
  }
  const others = CLASSES.filter(
    (c) => c !== predicted && c !== label && (probabilities[c] ?? 0) >= 0.05,
  );
  if (others.length > 0)
    parts.push(
      `also ${others.map((c) => `${c} at ${formatPercent(probabilities[c])}`).join(', ')}`,
    );
  return parts.join('; ');
}

/** Ten probability bars with the prediction and the true label marked, and a text alternative. */
export function ProbabilityBars({
  probabilities,
  predicted,
  label = null,
  compact = false,
}: ProbabilityBarsProps) {
  const wrong = label !== null && label !== predicted;
  if (!probabilities) {
    return (
      <div
        className={`prob-bars prob-bars--none${compact ? ' prob-bars--compact' : ''}`}
        title={NO_PREDICTION}
      >
        {compact ? 'not finite' : NO_PREDICTION}
      </div>
    );
  }
  return (
    <div className={`prob-bars${compact ? ' prob-bars--compact' : ''}`}>
      <span className="digits-sr-only">
        {describeProbabilities(probabilities, predicted, label)}
      </span>
      <div className="prob-bars__plot" aria-hidden="true">
        {CLASSES.map((c) => {
          const p = Math.min(1, Math.max(0, probabilities[c] ?? 0));
          const kind =
            c === predicted
              ? wrong
                ? ' prob-bars__col--wrong'
                : ' prob-bars__col--predicted'
              : '';
          const truth = c === label ? ' prob-bars__col--label' : '';
          return (
            <div
              key={c}
              className={`prob-bars__col${kind}${truth}`}
              title={`${c}: ${formatPercent(p)}`}
            >
              {!compact && (
                <span className="prob-bars__value">{c === predicted ? formatPercent(p) : ''}</span>
              )}
              <div className="prob-bars__track">
                <div className="prob-bars__bar" style={{ height: `${(p * 100).toFixed(1)}%` }} />
              </div>
              {compact ? (
                <span className="prob-bars__tick" />
              ) : (
                <span className="prob-bars__class">{c}</span>
              )}
            </div>
          );
        })}
      </div>
      {!compact && label !== null && (
        <p className="prob-bars__legend muted" aria-hidden="true">
          <span className="prob-bars__swatch prob-bars__swatch--label" /> true label
        </p>
      )}
    </div>
  );
}
