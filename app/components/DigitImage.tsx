'use client';
/**
 * One 28×28 digit drawn on a small canvas, scaled up without smoothing so every MNIST pixel
 * stays a crisp square. While the pixels load, a box of the same size stands in for it.
 */
import { useEffect, useRef } from 'react';
import { DIGIT_SIDE } from '../lib/mnistify';
import './digits.css';

/** Props of {@link DigitImage}. */
export interface DigitImageProps {
  /** 784 grey values 0–255, row-major, white digit on black; null while loading. */
  pixels: Uint8Array | null;
  /** Width and height in CSS pixels (default 56, twice the MNIST size). */
  size?: number;
  /** Accessible name, e.g. "test digit 123, a 7". */
  label?: string;
  /** Outlines the digit: red for a wrong prediction, green for a right one. */
  highlight?: 'wrong' | 'right' | null;
}

let scratch: HTMLCanvasElement | null = null;

/** A 28×28 canvas holding `pixels`, reused for every draw (drawing is synchronous). */
function digitBitmap(pixels: Uint8Array): HTMLCanvasElement {
  scratch ??= document.createElement('canvas');
  scratch.width = DIGIT_SIDE;
  scratch.height = DIGIT_SIDE;
  const ctx = scratch.getContext('2d');
  if (!ctx) return scratch;
  const image = ctx.createImageData(DIGIT_SIDE, DIGIT_SIDE);
  for (let i = 0; i < DIGIT_SIDE * DIGIT_SIDE; i++) {
    const v = pixels[i] ?? 0;
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return scratch;
}

/** Draws `pixels` onto `canvas`, scaled to its backing size with nearest-neighbour sampling. */
function drawDigit(canvas: HTMLCanvasElement, pixels: Uint8Array): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(digitBitmap(pixels), 0, 0, canvas.width, canvas.height);
}

function highlightClass(highlight: DigitImageProps['highlight']): string {
  switch (highlight) {
    case 'wrong':
      return ' digit-image--wrong';
    case 'right':
      return ' digit-image--right';
    case null:
    case undefined:
      return '';
    default: {
      const never: never = highlight;
      return never;
    }
  }
}

/**
 * A test or drawn digit at `size` CSS pixels, crisp at any device pixel ratio. The element
 * keeps its size while `pixels` is null, so a grid does not shift as images arrive.
 */
export function DigitImage({ pixels, size = 56, label, highlight = null }: DigitImageProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  const className = `digit-image${highlightClass(highlight)}`;

  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !pixels) return;
    // A whole multiple of 28 keeps every MNIST pixel the same number of device pixels wide.
    const scale = Math.max(1, Math.ceil((size * (window.devicePixelRatio || 1)) / DIGIT_SIDE));
    canvas.width = DIGIT_SIDE * scale;
    canvas.height = DIGIT_SIDE * scale;
    drawDigit(canvas, pixels);
  }, [pixels, size]);

  if (!pixels) {
    return (
      <span
        className={`${className} digit-image--placeholder`}
        style={{ width: size, height: size }}
        role="img"
        aria-label={label ? `${label} (loading)` : 'digit loading'}
      />
    );
  }
  return (
    <canvas
      ref={ref}
      className={className}
      style={{ width: size, height: size }}
      width={DIGIT_SIDE}
      height={DIGIT_SIDE}
      role="img"
      aria-label={label ?? 'digit'}
    />
  );
}
