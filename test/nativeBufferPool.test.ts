/**
 * The native backend's output-array pool: an array comes back for reuse only when the last
 * tensor storing it is disposed, and never once its values were read out or another tensor
 * stores a view of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../server/trainer/backends/nativeBufferPool';

const N = 10_000;

test('an array stored by one tensor is reused after that tensor is disposed', () => {
  const pool = new BufferPool();
  const a = pool.take(N);
  pool.stored(a);
  pool.released(a);
  assert.equal(pool.take(N), a, 'the same array, for the same length');
  assert.notEqual(pool.take(N), a, 'issued once only');
});

test('an array shared by two tensors waits for both', () => {
  const pool = new BufferPool();
  const a = pool.take(N);
  pool.stored(a);
  pool.stored(a);
  pool.released(a);
  assert.notEqual(pool.take(N), a, 'one tensor still stores it');
  pool.released(a);
  assert.equal(pool.take(N), a);
});

test('an array whose values were read out is never reused', () => {
  const pool = new BufferPool();
  const a = pool.take(N);
  pool.stored(a);
  pool.exposed(a);
  pool.released(a);
  assert.notEqual(pool.take(N), a);
});

test('an array another tensor views (a subarray) is never reused', () => {
  const pool = new BufferPool();
  const a = pool.take(N);
  pool.stored(a);
  pool.stored(a.subarray(10, 20));
  pool.released(a);
  assert.notEqual(pool.take(N), a);
});

test('zeroed arrays are zero when reused; small arrays and foreign arrays are not pooled', () => {
  const pool = new BufferPool();
  const a = pool.take(N);
  a.fill(7);
  pool.stored(a);
  pool.released(a);
  const again = pool.take(N, true);
  assert.equal(again, a);
  assert.ok(again.every((v) => v === 0));
  const small = pool.take(16);
  pool.stored(small);
  pool.released(small);
  assert.notEqual(pool.take(16), small);
  const foreign = new Float32Array(N);
  pool.stored(foreign);
  pool.released(foreign);
  assert.notEqual(pool.take(N), foreign);
});
