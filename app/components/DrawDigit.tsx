'use client';
/**
 * "Draw a digit": a square canvas to draw on with mouse, touch or pen; when a stroke ends the
 * drawing is turned into an MNIST-like 28×28 image (shown), sent to the run's latest checkpoint
 * (`POST /api/runs/:id/predict`) and the model's probabilities are shown with the checkpoint used.
 */
import { useCallback, useEffect, useRef, useState, type PointerEvent } from 'react';
import type { HttpBodies } from '../../server/protocol';
import { ApiError, apiPost } from '../lib/api';
import { mnistify, rgbaToGrey } from '../lib/mnistify';
import { DigitImage } from './DigitImage';
import { formatPercent, NO_PREDICTION, ProbabilityBars } from './ProbabilityBars';
import './digits.css';

/** Props of {@link DrawDigit}. */
export interface DrawDigitProps {
  runId: string;
  /** Why predicting is not possible now (e.g. no checkpoint yet); drawing still works. */
  disabledReason?: string | null;
}

type PredictAnswer = HttpBodies['POST /api/runs/:id/predict'];

type Result =
  | { kind: 'idle' }
  | { kind: 'pending' }
  | { kind: 'done'; answer: PredictAnswer }
  | { kind: 'failed'; message: string };

/** Backing size of the drawing canvas; its CSS size may differ. */
const SIDE = 280;
/** About a 2-pixel MNIST stroke once the digit is scaled to its 20×20 box. */
const BRUSH = 24;
const DEBOUNCE_MS = 300;

function describeError(error: unknown): string {
  if (error instanceof ApiError && error.code === 'CONFLICT') {
    return 'This run has no checkpoint yet: one is saved at the end of each epoch. Try again once the first epoch ends.';
  }
  return `Could not get a prediction: ${error instanceof Error ? error.message : String(error)}`;
}

function ResultView({
  result,
  disabledReason,
  hasDrawing,
}: {
  result: Result;
  disabledReason: string | null;
  hasDrawing: boolean;
}) {
  if (disabledReason) return <p className="muted">{disabledReason}</p>;
  switch (result.kind) {
    case 'idle':
      return (
        <p className="muted">
          {hasDrawing ? 'Ready.' : 'Draw a digit from 0 to 9 in the black square.'}
        </p>
      );
    case 'pending':
      return <p className="muted">Asking the model…</p>;
    case 'failed':
      return (
        <p className="error" role="alert">
          {result.message}
        </p>
      );
    case 'done': {
      const { checkpoint, predictions } = result.answer;
      const first = predictions[0];
      if (!first) return <p className="error">The hub answered without a prediction.</p>;
      if (!first.probabilities)
        return (
          <p className="error">
            The checkpoint at step {checkpoint.step} gives {NO_PREDICTION}.
          </p>
        );
      return (
        <div className="draw-digit__answer">
          <p className="draw-digit__headline">
            Looks like a <strong>{first.predicted}</strong> (
            {formatPercent(first.probabilities[first.predicted] ?? 0)})
          </p>
          <ProbabilityBars probabilities={first.probabilities} predicted={first.predicted} />
          <p className="muted">
            checkpoint at step {checkpoint.step}, epoch {checkpoint.epoch}
          </p>
        </div>
      );
    }
    default: {
      const never: never = result;
      return never;
    }
  }
}

/** A drawing pad that asks the run's latest checkpoint what digit was drawn. */
export function DrawDigit({ runId, disabledReason = null }: DrawDigitProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const stroke = useRef<{ id: number; x: number; y: number } | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const request = useRef(0);
  const [preview, setPreview] = useState<Uint8Array | null>(null);
  const [result, setResult] = useState<Result>({ kind: 'idle' });

  const inked = useRef(false);

  // The same context options on every call: only the first call's options count.
  const context = () => canvasRef.current?.getContext('2d', { willReadFrequently: true }) ?? null;

  const clearCanvas = useCallback(() => {
    const ctx = context();
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, SIDE, SIDE);
  }, []);

  useEffect(() => {
    clearCanvas();
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
  }, [clearCanvas]);

  const predict = useCallback(
    async (pixels: Uint8Array) => {
      const id = ++request.current;
      setResult({ kind: 'pending' });
      try {
        const answer = await apiPost<PredictAnswer>(
          `/api/runs/${encodeURIComponent(runId)}/predict`,
          { pixels: Array.from(pixels) },
        );
        if (id === request.current) setResult({ kind: 'done', answer });
      } catch (error) {
        if (id === request.current) setResult({ kind: 'failed', message: describeError(error) });
      }
    },
    [runId],
  );

  /** Converts the drawing and, when allowed, asks for a prediction. */
  const analyse = useCallback(() => {
    const ctx = context();
    if (!ctx) return;
    const pixels = mnistify({
      width: SIDE,
      height: SIDE,
      grey: rgbaToGrey(ctx.getImageData(0, 0, SIDE, SIDE).data),
    });
    const blank = pixels.every((v) => v === 0);
    inked.current = !blank;
    setPreview(blank ? null : pixels);
    request.current++;
    if (blank || disabledReason) setResult({ kind: 'idle' });
    else void predict(pixels);
  }, [disabledReason, predict]);

  // `analyse` changes with the run and with `disabledReason`: predict what is already drawn
  // once predicting becomes possible, or for the other run.
  useEffect(() => {
    if (inked.current && !disabledReason) analyse();
  }, [analyse, disabledReason]);

  /** Canvas backing-store coordinates of a pointer position. */
  const point = (canvas: HTMLCanvasElement, clientX: number, clientY: number) => {
    const rect = canvas.getBoundingClientRect();
    return {
      x: ((clientX - rect.left) * SIDE) / rect.width,
      y: ((clientY - rect.top) * SIDE) / rect.height,
    };
  };

  const line = (from: { x: number; y: number }, to: { x: number; y: number }) => {
    const ctx = context();
    if (!ctx) return;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = BRUSH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  };

  const onPointerDown = (e: PointerEvent<HTMLCanvasElement>) => {
    if (stroke.current || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    if (timer.current) clearTimeout(timer.current);
    const p = point(e.currentTarget, e.clientX, e.clientY);
    line(p, p);
    stroke.current = { id: e.pointerId, ...p };
  };

  const onPointerMove = (e: PointerEvent<HTMLCanvasElement>) => {
    const current = stroke.current;
    if (!current || current.id !== e.pointerId) return;
    // Coalesced events keep fast strokes smooth where the browser batches moves per frame.
    const events = e.nativeEvent.getCoalescedEvents?.() ?? [];
    let from = { x: current.x, y: current.y };
    for (const ev of events.length > 0 ? events : [e.nativeEvent]) {
      const to = point(e.currentTarget, ev.clientX, ev.clientY);
      line(from, to);
      from = to;
    }
    stroke.current = { id: current.id, ...from };
  };

  const onPointerEnd = (e: PointerEvent<HTMLCanvasElement>) => {
    if (stroke.current?.id !== e.pointerId) return;
    stroke.current = null;
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(analyse, DEBOUNCE_MS);
  };

  const clear = () => {
    if (timer.current) clearTimeout(timer.current);
    stroke.current = null;
    request.current++;
    inked.current = false;
    clearCanvas();
    setPreview(null);
    setResult({ kind: 'idle' });
  };

  return (
    <section className="draw-digit" aria-label="Draw a digit">
      <div className="draw-digit__pad">
        <canvas
          ref={canvasRef}
          className="draw-digit__canvas"
          width={SIDE}
          height={SIDE}
          role="img"
          aria-label="Drawing area: draw a digit with the mouse, a finger or a pen"
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerEnd}
          onPointerCancel={onPointerEnd}
        />
        <div className="draw-digit__actions">
          <button type="button" onClick={clear}>
            Clear
          </button>
          <button
            type="button"
            onClick={analyse}
            disabled={!preview || Boolean(disabledReason) || result.kind === 'pending'}
          >
            Predict again
          </button>
        </div>
      </div>
      <div className="draw-digit__result" aria-live="polite">
        <div className="draw-digit__preview">
          <DigitImage pixels={preview} size={84} label="your digit as the model sees it (28×28)" />
          <span className="muted">28×28 input</span>
        </div>
        <ResultView result={result} disabledReason={disabledReason} hasDrawing={preview !== null} />
      </div>
    </section>
  );
}
