/**
 * Child processes and temp directories for benchmarks, with cleanup that runs on success,
 * on error and on Ctrl-C: every process started here is tracked and ended (SIGTERM, then
 * SIGKILL), every temp directory removed. Entries run with `node --import tsx`, like tests do.
 * {@link meterLoad} tells how much CPU other processes on the machine took meanwhile.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname, '..', '..');

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
const output = new WeakMap<ChildProcess, { text: string }>();
const OUTPUT_KEEP = 32 * 1024;

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  const buf = { text: '' };
  output.set(child, buf);
  const keep = (d: Buffer) => {
    buf.text = (buf.text + d.toString('utf8')).slice(-OUTPUT_KEEP);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * Node flags for every child: `--cpu-prof` into $BENCH_CPU_PROF_DIR when it is set, so a
 * benchmark's hub, trainer and watchers can be profiled in the very run that is measured
 * (NODE_OPTIONS refuses --cpu-prof). A profile is written when the child exits cleanly.
 */
const nodeFlags = [
  '--import',
  'tsx',
  ...(process.env.BENCH_CPU_PROF_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
    : []),
];

/** A project entry (path from the repo root) in its own node + tsx process, with an IPC channel. */
export function forkEntry(
  entry: string,
  args: string[] = [],
  opts: { nice?: number } = {},
): ChildProcess {
  const child = fork(path.join(ROOT, entry), args, {
    cwd: ROOT,
    execArgv: nodeFlags,
    stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
  });
  if (opts.nice && child.pid) os.setPriority(child.pid, opts.nice);
  return track(child);
}

/** A project entry in its own node + tsx process, stdin/stdout/stderr piped, no IPC. */
export function spawnEntry(entry: string, args: string[] = []): ChildProcess {
  return track(
    spawn(process.execPath, [...nodeFlags, path.join(ROOT, entry), ...args], {
      cwd: ROOT,
      env: process.env,
    }),
  );
}

/** The last 32 KiB a tracked child wrote to stdout and stderr. */
export function outputOf(child: ChildProcess): string {
  return output.get(child)?.text ?? '';
}

/** Resolves with the exit code (or signal) once `child` has exited. */
export function exited(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
}

/** Asks `child` to stop (SIGTERM) and kills it if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** Waits for the first IPC message from `child` that parses with `schema` and satisfies `match`. */
export function nextMessage<S extends z.ZodType>(
  child: ChildProcess,
  schema: S,
  what: string,
  timeoutMs = 60_000,
  match: (m: z.infer<S>) => boolean = () => true,
): Promise<z.infer<S>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (raw: unknown) => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success || !match(parsed.data)) return;
      cleanup();
      resolve(parsed.data);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(
        new Error(`${what}: the process exited (${code}) first; its output:\n${outputOf(child)}`),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`${what}: timed out after ${timeoutMs} ms; process output:\n${outputOf(child)}`),
      );
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Runs an entry to completion (tracked, so Ctrl-C ends it too) and collects its output. */
export async function runEntry(
  entry: string,
  args: string[],
): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  const child = spawnEntry(entry, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await exited(child);
  return { code, stdout, stderr };
}

/** A fresh temp directory, removed by {@link cleanupAll} (or at exit). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Removes a temp directory made by {@link tempDir}. */
export async function removeDir(dir: string): Promise<void> {
  dirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/** Stops every tracked process and removes every temp directory. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c, 3000)));
  await Promise.all([...dirs].map(removeDir));
}

/**
 * Ctrl-C / SIGTERM: clean up, then exit 130. At exit whatever is left is killed and removed
 * synchronously (the last resort when the process ends on an uncaught error).
 */
export function installCleanup(onSignal: () => void = () => {}): void {
  let signalled = false;
  const handler = () => {
    if (signalled) process.exit(130);
    signalled = true;
    onSignal();
    process.stderr.write('\ninterrupted: stopping child processes, removing temp dirs\n');
    void cleanupAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}

/** Clock ticks per second of /proc CPU times (USER_HZ; 100 on every Linux that matters here). */
const TICKS_PER_SEC = 100;

/** utime + stime + cutime + cstime of a process, in ticks (0 when it is gone or not Linux). */
function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime..cstime are fields 14..17.
    return fields.slice(11, 15).reduce((a, f) => a + Number(f), 0);
  } catch {
    return 0;
  }
}

/** Busy ticks of the whole machine (user, nice, system, irq, softirq), or null without /proc. */
export function machineTicks(): number | null {
  try {
    const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .map(Number);
    return user + nice + system + irq + softirq;
  } catch {
    return null;
  }
}

/** CPU this process and its children (live, or exited and reaped) have used, in ticks. */
function ourTicks(): number {
  let ticks = processTicks('self');
  for (const c of live) if (c.pid) ticks += processTicks(c.pid);
  return ticks;
}

/** CPU use over an interval, in cores (1 = one core fully busy). */
export interface Load {
  /** This benchmark and its child processes. */
  ours: number;
  /** Everything else on the machine (other users' tests, builds, …). */
  others: number;
  /** The child passed to meterLoad, if any. */
  watched?: number;
}

/**
 * Starts measuring; `stop()` returns the load over the interval, or null where /proc is
 * missing. Call `stop()` before ending the children whose CPU should count as ours;
 * `watch` names one child whose own share is reported as `watched` (e.g. the trainer).
 */
export function meterLoad(watch?: ChildProcess): { stop(): Load | null } {
  const t0 = performance.now();
  const m0 = machineTicks();
  const o0 = ourTicks();
  const w0 = watch?.pid ? processTicks(watch.pid) : 0;
  return {
    stop() {
      const m1 = machineTicks();
      if (m0 === null || m1 === null) return null;
      const seconds = (performance.now() - t0) / 1000;
      const ours = (ourTicks() - o0) / TICKS_PER_SEC / seconds;
      const watched = watch?.pid
        ? (processTicks(watch.pid) - w0) / TICKS_PER_SEC / seconds
        : undefined;
      return { ours, others: Math.max(0, (m1 - m0) / TICKS_PER_SEC / seconds - ours), watched };
    },
  };
}
