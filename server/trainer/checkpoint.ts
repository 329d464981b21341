/**
 * Checkpoints: model weights and optimizer state at a position in the schedule, in one file
 * so that a write is atomic (temp file + rename). Layout: the 8-byte magic `LVTCKPT1`, a
 * little-endian uint32 header length, a JSON header (padded to 4 bytes), then float32 data.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { hyperparamsSchema, runIdSchema } from './config';

const MAGIC = 'LVTCKPT1';

const tensorEntrySchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().min(0)),
  offset: z.number().int().min(0),
  length: z.number().int().min(0),
});

export const checkpointHeaderSchema = z.object({
  version: z.literal(1),
  runId: runIdSchema,
  /** Next batch to train: epoch (1-based) and batch index within it. */
  position: z.object({ epoch: z.number().int().min(1), batch: z.number().int().min(0) }),
  /** Optimizer updates done so far. */
  step: z.number().int().min(0),
  /** Epochs completed (equal to position.epoch - 1 unless stopped mid-epoch). */
  epochsCompleted: z.number().int().min(0),
  hyperparams: hyperparamsSchema,
  learningRate: z.number().positive(),
  optimizerStep: z.number().int().min(0),
  /** Seq of the `checkpoint` event that announces this checkpoint. */
  lastSeq: z.number().int().min(0),
  reason: z.enum(['epoch', 'stop']),
  backend: z.string(),
  time: z.number(),
  tensors: z.array(tensorEntrySchema),
});
export type CheckpointHeader = z.infer<typeof checkpointHeaderSchema>;

export interface Checkpoint {
  header: CheckpointHeader;
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
}

export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'CheckpointError';
  }
}

/** File name that sorts by step. */
export function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(10, '0')}.ckpt`;
}

/** Writes a checkpoint into `dir` and returns its path. */
export async function saveCheckpoint(
  dir: string,
  header: Omit<CheckpointHeader, 'tensors' | 'version'>,
  tensors: ReadonlyMap<string, tf.Tensor>,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entries: CheckpointHeader['tensors'] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const values = (await tensor.data()) as Float32Array;
    entries.push({ name, shape: tensor.shape, offset, length: values.length });
    chunks.push(values);
    offset += values.length;
  }
  const json = Buffer.from(JSON.stringify({ ...header, version: 1, tensors: entries }), 'utf8');
  const headerLength = Math.ceil(json.length / 4) * 4;
  const file = Buffer.alloc(8 + 4 + headerLength + offset * 4, 0x20);
  file.write(MAGIC, 0, 'ascii');
  file.writeUInt32LE(headerLength, 8);
  json.copy(file, 12);
  const data = new Float32Array(file.buffer, file.byteOffset + 12 + headerLength, offset);
  let at = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.length;
  }
  const target = path.join(dir, checkpointFileName(header.step));
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, file);
  await rename(temp, target);
  return target;
}

/** Reads and validates a checkpoint file. */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (error) {
    throw new CheckpointError(
      file,
      `cannot read checkpoint (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return decodeCheckpoint(buf, file);
}

/** Parses and validates checkpoint bytes (e.g. stored by the hub); `file` names it in errors. */
export function decodeCheckpoint(buf: Buffer, file: string): Checkpoint {
  if (buf.length < 12 || buf.toString('ascii', 0, 8) !== MAGIC)
    throw new CheckpointError(file, 'not a Livetrain checkpoint');
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length) throw new CheckpointError(file, 'truncated header');
  let header: CheckpointHeader;
  try {
    header = checkpointHeaderSchema.parse(JSON.parse(buf.toString('utf8', 12, 12 + headerLength)));
  } catch {
    throw new CheckpointError(file, 'corrupt header');
  }
  const dataBytes = buf.length - 12 - headerLength;
  const total = header.tensors.reduce((n, t) => Math.max(n, t.offset + t.length), 0);
  if (dataBytes !== total * 4)
    throw new CheckpointError(file, `expected ${total * 4} bytes of weights, found ${dataBytes}`);
  const data = new Float32Array(
    buf.buffer.slice(buf.byteOffset + 12 + headerLength, buf.byteOffset + buf.length),
  );
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const entry of header.tensors) {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (size !== entry.length)
      throw new CheckpointError(file, `tensor ${entry.name}: shape does not match length`);
    tensors.set(entry.name, {
      shape: entry.shape,
      values: data.subarray(entry.offset, entry.offset + entry.length),
    });
  }
  return { header, tensors };
}

/** Path of the checkpoint with the highest step in `dir`, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  const ckpts = names.filter((n) => /^step-\d+\.ckpt$/.test(n)).sort();
  return ckpts.length ? path.join(dir, ckpts[ckpts.length - 1]) : null;
}
