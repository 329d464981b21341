/**
 * The drawing → MNIST conversion of "draw a digit" (app/lib/mnistify.ts) and the decoding of
 * the hub's base64 digit pixels (app/lib/digits.ts): pure functions, no DOM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePixels } from '../../app/lib/digits';
import {
  DIGIT_PIXELS,
  DIGIT_SIDE,
  inkBounds,
  mnistify,
  rgbaToGrey,
  type GreyImage,
} from '../../app/lib/mnistify';

/** A black `width`×`height` canvas with white ink where `ink(x, y)` is true. */
function canvas(width: number, height: number, ink: (x: number, y: number) => boolean): GreyImage {
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) grey[y * width + x] = ink(x, y) ? 255 : 0;
  return { width, height, grey };
}

/** Centre of mass of a 28×28 digit, in pixel-centre coordinates (14 = the image centre). */
function centreOfMass(pixels: Uint8Array): { x: number; y: number } {
  let mass = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < pixels.length; i++) {
    mass += pixels[i];
    x += pixels[i] * ((i % DIGIT_SIDE) + 0.5);
    y += pixels[i] * (Math.floor(i / DIGIT_SIDE) + 0.5);
  }
  return { x: x / mass, y: y / mass };
}

function bounds(pixels: Uint8Array) {
  const box = inkBounds({ width: DIGIT_SIDE, height: DIGIT_SIDE, grey: pixels });
  assert.ok(box, 'the digit has ink');
  return { width: box.x1 - box.x0, height: box.y1 - box.y0 };
}

function assertDigit(pixels: Uint8Array): void {
  assert.equal(pixels.length, DIGIT_PIXELS);
  for (const v of pixels) assert.ok(Number.isInteger(v) && v >= 0 && v <= 255, `grey value ${v}`);
}

test('an empty canvas becomes 784 zeros', () => {
  const out = mnistify(canvas(280, 280, () => false));
  assertDigit(out);
  assert.ok(out.every((v) => v === 0));
});

test('an off-centre blob is centred by its centre of mass and scaled to the 20-pixel box', () => {
  // A disc of radius 30 near the top-left corner of a 280×280 canvas.
  const out = mnistify(
    canvas(280, 280, (x, y) => (x + 0.5 - 50) ** 2 + (y + 0.5 - 60) ** 2 <= 30 ** 2),
  );
  assertDigit(out);
  const com = centreOfMass(out);
  assert.ok(Math.abs(com.x - DIGIT_SIDE / 2) <= 0.5, `centre of mass x ${com.x}`);
  assert.ok(Math.abs(com.y - DIGIT_SIDE / 2) <= 0.5, `centre of mass y ${com.y}`);
  assert.deepEqual(bounds(out), { width: 20, height: 20 });
  assert.equal(Math.max(...out), 255);
});

test('a lopsided shape puts its centre of mass, not its box, at the centre', () => {
  // An "L": a heavy vertical bar and a thin foot, so the mass sits left of the box centre.
  const out = mnistify(
    canvas(
      100,
      100,
      (x, y) =>
        (x >= 10 && x < 30 && y >= 10 && y < 90) || (x >= 10 && x < 90 && y >= 85 && y < 90),
    ),
  );
  const com = centreOfMass(out);
  assert.ok(Math.abs(com.x - DIGIT_SIDE / 2) <= 0.5, `centre of mass x ${com.x}`);
  assert.ok(Math.abs(com.y - DIGIT_SIDE / 2) <= 0.5, `centre of mass y ${com.y}`);
});

test('the aspect ratio is kept: the longer side becomes 20 pixels', () => {
  // A 150×50 bar (3:1) and a 40×120 bar (1:3).
  const wide = mnistify(canvas(280, 280, (x, y) => x >= 100 && x < 250 && y >= 20 && y < 70));
  assert.deepEqual(bounds(wide), { width: 20, height: 7 });
  const tall = mnistify(canvas(280, 280, (x, y) => x >= 10 && x < 50 && y >= 100 && y < 220));
  assert.deepEqual(bounds(tall), { width: 7, height: 20 });
});

test('a small drawing is scaled up and grey values stay in 0–255', () => {
  const out = mnistify(canvas(280, 280, (x, y) => x >= 140 && x < 145 && y >= 140 && y < 150));
  assertDigit(out);
  assert.deepEqual(bounds(out), { width: 10, height: 20 });
});

test('faint ink is stretched so that its brightest pixel is 255', () => {
  // A faint (value 100) square: its grey levels are stretched so the peak is white.
  const faint: GreyImage = {
    width: 50,
    height: 50,
    grey: new Uint8Array(2500).map((_, i) =>
      i % 50 >= 10 && i % 50 < 40 && i >= 500 && i < 2000 ? 100 : 0,
    ),
  };
  const out = mnistify(faint);
  assertDigit(out);
  assert.equal(Math.max(...out), 255);
});

test('a grey array shorter than width × height is refused', () => {
  assert.throws(() => mnistify({ width: 10, height: 10, grey: new Uint8Array(99) }), RangeError);
});

test('rgbaToGrey takes the brightest channel of each pixel', () => {
  assert.deepEqual(
    [...rgbaToGrey([0, 0, 0, 255, 255, 255, 255, 255, 10, 200, 30, 255])],
    [0, 255, 200],
  );
});

test('decodePixels turns the hub base64 back into the 784 bytes', () => {
  const bytes = new Uint8Array(DIGIT_PIXELS).map((_, i) => (i * 7) % 256);
  const decoded = decodePixels(Buffer.from(bytes).toString('base64'));
  assert.ok(decoded instanceof Uint8Array);
  assert.deepEqual([...decoded], [...bytes]);
});

test('decodePixels refuses bytes that are not one 28×28 image', () => {
  assert.throws(
    () => decodePixels(Buffer.from(new Uint8Array(100)).toString('base64')),
    RangeError,
  );
  assert.throws(() => decodePixels('not base64!'));
});
