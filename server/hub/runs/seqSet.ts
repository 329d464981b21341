/**
 * The seqs of one run that have arrived, in any order: every seq up to `gapless`, and those
 * above a missing one. The registry keeps one of what it accepted, the ingest one of what it
 * committed; an acknowledgement is the committed one's `gapless`.
 */
export interface SeqView {
  /** Every seq up to this one is held. */
  readonly gapless: number;
  /** The highest seq held. */
  readonly highest: number;
  has(seq: number): boolean;
}

export class SeqSet implements SeqView {
  private readonly above: Set<number>;

  constructor(
    public gapless = 0,
    above: Iterable<number> = [],
  ) {
    this.above = new Set(above);
  }

  get highest(): number {
    let highest = this.gapless;
    for (const seq of this.above) if (seq > highest) highest = seq;
    return highest;
  }

  has(seq: number): boolean {
    return seq <= this.gapless || this.above.has(seq);
  }

  add(seq: number): void {
    if (seq <= this.gapless) return;
    this.above.add(seq);
    this.advance();
  }

  /** Every seq up to `seq` is held too (stored through another hub, say). */
  raise(seq: number): void {
    if (seq <= this.gapless) return;
    this.gapless = seq;
    for (const s of this.above) if (s <= seq) this.above.delete(s);
    this.advance();
  }

  /** Forgets `seq` and every seq above it (a write of them failed). */
  dropFrom(seq: number): void {
    this.gapless = Math.min(this.gapless, seq - 1);
    for (const s of this.above) if (s >= seq) this.above.delete(s);
  }

  copy(): SeqSet {
    return new SeqSet(this.gapless, this.above);
  }

  private advance(): void {
    while (this.above.delete(this.gapless + 1)) this.gapless++;
  }
}
