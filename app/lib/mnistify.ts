/**
 * Turns a drawing into an MNIST-like digit, the way the MNIST images were made: the ink's
 * bounding box is scaled (anti-aliased, aspect ratio kept) to fit a 20×20 box, then placed in
 * a 28×28 image so that its centre of mass sits at the image centre. Pure functions, no DOM.
 */

/** MNIST images are 28×28. */
export const DIGIT_SIDE = 28;
/** Number of pixels in a digit. */
export const DIGIT_PIXELS = DIGIT_SIDE * DIGIT_SIDE;
/** MNIST digits are scaled to fit this box before centring. */
export const INK_BOX = 20;

/** A grey image: `grey[y * width + x]`, 0 = black background, 255 = white ink. */
export interface GreyImage {
  width: number;
  height: number;
  grey: ArrayLike<number>;
}

/** Converts RGBA bytes (a canvas's `ImageData.data`) to grey by taking the brightest channel. */
export function rgbaToGrey(rgba: ArrayLike<number>): Uint8Array {
  const grey = new Uint8Array(Math.floor(rgba.length / 4));
  for (let i = 0; i < grey.length; i++) {
    grey[i] = Math.max(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
  }
  return grey;
}

interface Box {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
}

/** The smallest box holding every pixel brighter than `threshold`, or null for a blank image. */
export function inkBounds(image: GreyImage, threshold = 0): Box | null {
  const { width, height, grey } = image;
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grey[y * width + x] > threshold) {
        if (x < x0) x0 = x;
        if (x >= x1) x1 = x + 1;
        if (y < y0) y0 = y;
        if (y >= y1) y1 = y + 1;
      }
    }
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

/**
 * Box-filter resample of `box` in `image` to `tw`×`th`: every target pixel is the mean of the
 * source area it covers, counting partly covered source pixels by their covered fraction.
 */
function resample(image: GreyImage, box: Box, tw: number, th: number): Float64Array {
  const sx = (box.x1 - box.x0) / tw;
  const sy = (box.y1 - box.y0) / th;
  const out = new Float64Array(tw * th);
  for (let ty = 0; ty < th; ty++) {
    const top = box.y0 + ty * sy;
    const bottom = top + sy;
    for (let tx = 0; tx < tw; tx++) {
      const left = box.x0 + tx * sx;
      const right = left + sx;
      // Rounding can push an edge a hair past the box; the box's own pixels are all that count.
      let sum = 0;
      for (let y = Math.floor(top); y < Math.min(box.y1, Math.ceil(bottom)); y++) {
        const wy = Math.min(bottom, y + 1) - Math.max(top, y);
        for (let x = Math.floor(left); x < Math.min(box.x1, Math.ceil(right)); x++) {
          const wx = Math.min(right, x + 1) - Math.max(left, x);
          sum += wx * wy * image.grey[y * image.width + x];
        }
      }
      out[ty * tw + tx] = sum / (sx * sy);
    }
  }
  return out;
}

/**
 * Converts a drawing (white ink on black) to a 28×28 MNIST-like digit: 784 grey values 0–255,
 * row-major. The ink's bounding box is scaled so its longer side is 20 pixels, keeping the
 * aspect ratio; the result is shifted (by whole pixels) so its centre of mass is at the centre
 * of the 28×28 image, and its brightest pixel is stretched to 255. A blank drawing gives zeros.
 */
export function mnistify(image: GreyImage): Uint8Array {
  if (image.grey.length < image.width * image.height) {
    throw new RangeError(
      `a ${image.width}×${image.height} image needs ${image.width * image.height} values, got ${image.grey.length}`,
    );
  }
  const out = new Uint8Array(DIGIT_PIXELS);
  const box = inkBounds(image);
  if (!box) return out;

  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const scale = INK_BOX / Math.max(w, h);
  const tw = Math.max(1, Math.min(INK_BOX, Math.round(w * scale)));
  const th = Math.max(1, Math.min(INK_BOX, Math.round(h * scale)));
  const small = resample(image, box, tw, th);

  // Centre of mass in pixel-centre coordinates of the small image.
  let mass = 0;
  let mx = 0;
  let my = 0;
  let peak = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
      if (v > peak) peak = v;
    }
  }
  const dx = Math.round(DIGIT_SIDE / 2 - mx / mass);
  const dy = Math.round(DIGIT_SIDE / 2 - my / mass);

  for (let y = 0; y < th; y++) {
    const oy = y + dy;
    if (oy < 0 || oy >= DIGIT_SIDE) continue;
    for (let x = 0; x < tw; x++) {
      const ox = x + dx;
      if (ox < 0 || ox >= DIGIT_SIDE) continue;
      out[oy * DIGIT_SIDE + ox] = Math.round((small[y * tw + x] / peak) * 255);
    }
  }
  return out;
}
