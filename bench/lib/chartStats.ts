/**
 * Figures for bench/chart from what the page recorded: redraw times per chart and per frame
 * (both batch charts redraw in the same animation frame), frame rate and long frames, and the
 * end-to-end latency from a point leaving the trainer to both charts showing it; and how busy
 * the machine was meanwhile, since other work on it shows up in every figure here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Sent } from './chartHub';
import { machineTicks } from './children';
import type { Draw, Recording } from './chartPage';

/** Frames longer than this are "long" (a visible stutter: three 60 Hz frames). */
export const LONG_FRAME_MS = 50;

/** p50 / p95 / max of a sample, NaN when empty. */
export interface Spread {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank quantiles of `values` (not modified). */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { n: 0, p50: NaN, p95: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  return spread(values).p50;
}

/** The streaming phase, summarised. */
export interface StreamFigures {
  /** One chart's redraw. */
  perDraw: Spread;
  /** Both charts' redraws in one animation frame: the work a frame pays for the charts. */
  perFrame: Spread;
  fps: number;
  frameInterval: Spread;
  longFrames: number;
  longTasks: Spread;
  /** Trainer send → both charts drawn with that message's points. */
  latency: Spread;
  /** Animation frames with a chart redraw, per second. */
  redrawFramesPerSec: number;
  rxBytesPerSec: number;
  seconds: number;
  captions: string[];
}

/** Sums redraw times by animation frame. */
function perFrame(draws: readonly Draw[]): number[] {
  const frames = new Map<number, number>();
  for (const [frame, ms] of draws) frames.set(frame, (frames.get(frame) ?? 0) + ms);
  return [...frames.values()];
}

/**
 * For each streamed message, the first redraw at or after its send time that shows its
 * points on both charts. Both clocks are this machine's Date.now().
 */
function latencies(draws: readonly Draw[], sent: readonly Sent[]): number[] {
  const out: number[] = [];
  let i = 0;
  for (const s of sent) {
    while (i < draws.length && (draws[i][3] < s.total || draws[i][2] < s.wall)) i++;
    if (i === draws.length) break;
    out.push(draws[i][2] - s.wall);
  }
  return out;
}

/** Summarises one recording; `sent` are the messages the trainer streamed meanwhile. */
export function streamFigures(rec: Recording, sent: readonly Sent[]): StreamFigures {
  const seconds = rec.frames.reduce((a, b) => a + b, 0) / 1000;
  const frames = perFrame(rec.draws);
  return {
    perDraw: spread(rec.draws.map((d) => d[1])),
    perFrame: spread(frames),
    fps: rec.frames.length / seconds,
    frameInterval: spread(rec.frames),
    longFrames: rec.frames.filter((f) => f > LONG_FRAME_MS).length,
    longTasks: spread(rec.longTasks),
    latency: spread(latencies(rec.draws, sent)),
    redrawFramesPerSec: frames.length / seconds,
    rxBytesPerSec: rec.rxBytes / seconds,
    seconds,
    captions: rec.captions,
  };
}

/** A number with `digits` decimals and thousands separators, "–" when not finite. */
export function num(n: number, digits = 1): string {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–';
}

/** `p50 / p95 / max` with one decimal. */
export function triple(s: Spread): string {
  return s.n === 0 ? '–' : `${num(s.p50)} / ${num(s.p95)} / ${num(s.max)}`;
}

/** `a / b` as "×1.23", "–" when either is missing. */
export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `×${(a / b).toFixed(2)}` : '–';
}

/** CPU use over an interval, in cores (1 = one core fully busy). */
export interface TreeLoad {
  /** This process and every descendant: the hub, Chromium's processes, the fake trainer. */
  ours: number;
  /** Everything else on the machine (other people's tests and builds). */
  others: number;
}

const TICKS_PER_SEC = 100;

/** user + system ticks of `root` and all its live descendants, from /proc (0 without it). */
function treeTicks(root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const name of existsSync('/proc') ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(f[1]));
      ticks.set(Number(name), Number(f[11]) + Number(f[12]));
    } catch {
      // The process ended while we read.
    }
  }
  let sum = 0;
  for (const [pid, t] of ticks) {
    let p = pid;
    for (let hops = 0; p > 1 && p !== root && hops < 64; hops++) p = parent.get(p) ?? 0;
    if (p === root) sum += t;
  }
  return sum;
}

/**
 * Starts metering this process tree against the machine (Chromium is not a child that
 * bench/lib/children tracks, so its meterLoad would count Chromium as "others").
 */
export function meterTree(): { stop(): TreeLoad | null } {
  const t0 = performance.now();
  const m0 = machineTicks();
  const o0 = treeTicks(process.pid);
  return {
    stop() {
      const m1 = machineTicks();
      if (m0 === null || m1 === null) return null;
      const seconds = (performance.now() - t0) / 1000;
      const ours = (treeTicks(process.pid) - o0) / TICKS_PER_SEC / seconds;
      return { ours, others: Math.max(0, (m1 - m0) / TICKS_PER_SEC / seconds - ours) };
    },
  };
}
