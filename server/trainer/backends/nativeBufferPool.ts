/**
 * Reuse of the native kernels' output arrays. A fresh large Float32Array costs more than the
 * kernel that fills it (new pages, zeroing, garbage collection of external memory), and a
 * training step allocates the same sizes every step; so arrays the kernels allocated return
 * here when their tensor is disposed, and the next kernel needing that length takes one.
 *
 * An array is recycled only while nothing else can see it: once its values have been read out
 * (`dataSync`, `data`), or another tensor stores it or a view of it (the cpu backend's Slice
 * returns subarrays), it is left to the garbage collector instead.
 */

/** Arrays smaller than this are cheap to allocate; pooling them buys nothing. */
const MIN_POOLED = 4096;
/** A bound on what the pool holds while no tensor uses it. */
const MAX_IDLE_BYTES = 256 * 1024 * 1024;

export class BufferPool {
  private readonly idle = new Map<number, Float32Array[]>();
  private idleBytes = 0;
  /** Arrays this pool issued and may take back, with how many tensors store each. */
  private readonly users = new WeakMap<Float32Array, number>();
  /** The array that owns each issued buffer, to recognise views of it. */
  private readonly owners = new WeakMap<ArrayBufferLike, Float32Array>();

  /** An array of `length` floats; its contents are stale unless `zeroed`. */
  take(length: number, zeroed = false): Float32Array {
    if (length < MIN_POOLED) return new Float32Array(length);
    const reused = this.idle.get(length)?.pop();
    if (reused) {
      this.idleBytes -= reused.byteLength;
      if (zeroed) reused.fill(0);
    }
    const array = reused ?? new Float32Array(length);
    this.users.set(array, 0);
    this.owners.set(array.buffer, array);
    return array;
  }

  /** A tensor now stores `values` (the backend's `write`/`move`). */
  stored(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const owner = this.owners.get(values.buffer);
    if (!owner) return;
    if (owner !== values)
      this.forget(owner); // a view: the owner can no longer be reused safely
    else this.users.set(owner, (this.users.get(owner) ?? 0) + 1);
  }

  /** Someone outside the backend holds `values` now (a read): never reuse it. */
  exposed(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const owner = this.owners.get(values.buffer);
    if (owner) this.forget(owner);
  }

  /** A tensor that stored `values` was disposed. */
  released(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const count = this.users.get(values);
    if (count === undefined || this.owners.get(values.buffer) !== values) return;
    if (count > 1) {
      this.users.set(values, count - 1);
      return;
    }
    this.users.delete(values);
    if (this.idleBytes + values.byteLength > MAX_IDLE_BYTES) {
      this.owners.delete(values.buffer);
      return;
    }
    const list = this.idle.get(values.length) ?? [];
    list.push(values);
    this.idle.set(values.length, list);
    this.idleBytes += values.byteLength;
  }

  private forget(owner: Float32Array): void {
    this.users.delete(owner);
    this.owners.delete(owner.buffer);
  }
}
