/**
 * Pure parser for IDX files, the format MNIST ships in.
 *
 * Layout: a 4-byte magic number `0x00 0x00 <dtype> <ndims>`, then `ndims` big-endian uint32
 * dimension sizes, then the data in row-major order. Only the unsigned-byte dtype (0x08) that
 * MNIST uses is supported; every malformed input becomes a {@link DataError} naming the file.
 */

/** An error in a dataset file: bad format, wrong size, missing, failed checksum. */
export class DataError extends Error {
  /** The file (path or name) the problem was found in. */
  readonly file: string;

  constructor(file: string, message: string) {
    super(message);
    this.name = 'DataError';
    this.file = file;
  }
}

/** A parsed IDX file: its dimension sizes and its raw unsigned-byte payload. */
export interface IdxArray {
  dims: number[];
  /** The payload, a view into the input buffer (no copy); length is the product of `dims`. */
  data: Uint8Array;
}

/** What the caller expects the file to be. */
export interface IdxExpectation {
  /** Number of dimensions: 3 for an image file, 1 for a label file. */
  ndims: number;
}

const UBYTE = 0x08;

/** IDX dtypes from the format's definition, for naming an unsupported one in errors. */
const DTYPE_NAMES: Readonly<Record<number, string>> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** Formats a 32-bit number as zero-padded hex, e.g. `0x00000803`. */
function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

/** The magic number of an unsigned-byte IDX file with `ndims` dimensions. */
function ubyteMagic(ndims: number): number {
  return (UBYTE << 8) | ndims;
}

/**
 * Parses an unsigned-byte IDX file.
 *
 * @param buf - the whole file's bytes (already decompressed).
 * @param fileName - named in every error message.
 * @param expect - the expected number of dimensions.
 * @returns the dimension sizes and a view of the payload.
 * @throws {@link DataError} on a short header, wrong magic number, unsupported dtype,
 *   truncated payload or trailing bytes.
 */
export function parseIdx(buf: Uint8Array, fileName: string, expect: IdxExpectation): IdxArray {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  checkMagic(view, fileName, expect.ndims);
  const headerBytes = 4 + 4 * expect.ndims;
  if (buf.byteLength < headerBytes) {
    throw new DataError(
      fileName,
      `${fileName}: header too short: a ${expect.ndims}-dimension IDX header needs ${headerBytes} bytes, ` +
        `the file has ${buf.byteLength}`,
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < expect.ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const dataBytes = buf.byteLength - headerBytes;
  const expectedBytes = dims.reduce((a, b) => a * b, 1);
  checkPayloadSize(fileName, dims, headerBytes, expectedBytes, dataBytes);
  return { dims, data: buf.subarray(headerBytes, headerBytes + expectedBytes) };
}

/** Validates the 4-byte magic number against an unsigned-byte file of `ndims` dimensions. */
function checkMagic(view: DataView, fileName: string, ndims: number): void {
  const expected = ubyteMagic(ndims);
  if (view.byteLength < 4) {
    throw new DataError(
      fileName,
      `${fileName}: header too short: ${view.byteLength} byte(s), an IDX file starts with a 4-byte ` +
        `magic number (expected ${hex32(expected)})`,
    );
  }
  const magic = view.getUint32(0, false);
  if (magic === expected) return;
  const dtype = view.getUint8(2);
  const foundDims = view.getUint8(3);
  const base = `${fileName}: wrong magic number ${hex32(magic)}, expected ${hex32(expected)}`;
  if (view.getUint16(0, false) !== 0 || !(dtype in DTYPE_NAMES)) {
    throw new DataError(fileName, `${base} (not an IDX file, or still compressed?)`);
  }
  if (dtype !== UBYTE) {
    throw new DataError(
      fileName,
      `${base}: unsupported data type 0x${dtype.toString(16).padStart(2, '0')} (${DTYPE_NAMES[dtype]}); ` +
        `only unsigned byte (0x08) is supported`,
    );
  }
  throw new DataError(
    fileName,
    `${base}: the file has ${foundDims} dimension(s), expected ${ndims} ` +
      `(${ndims === 3 ? 'an image' : ndims === 1 ? 'a label' : 'an IDX'} file)`,
  );
}

/** Checks that the payload holds exactly the product of the dimensions. */
function checkPayloadSize(
  fileName: string,
  dims: number[],
  headerBytes: number,
  expectedBytes: number,
  dataBytes: number,
): void {
  const shape = dims.join('x');
  if (dataBytes < expectedBytes) {
    throw new DataError(
      fileName,
      `${fileName}: truncated file: dimensions ${shape} need ${expectedBytes} bytes of data after ` +
        `the ${headerBytes}-byte header, found ${dataBytes}`,
    );
  }
  if (dataBytes > expectedBytes) {
    throw new DataError(
      fileName,
      `${fileName}: ${dataBytes - expectedBytes} unexpected trailing byte(s): dimensions ${shape} need ` +
        `${expectedBytes} bytes of data after the ${headerBytes}-byte header, found ${dataBytes}`,
    );
  }
}
