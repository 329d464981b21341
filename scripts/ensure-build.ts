/**
 * Builds the dashboard with `next build` only when the last build is missing or stale.
 *
 *   tsx scripts/ensure-build.ts [--dir DIR]      (npm run build:if-stale; npm start runs it first)
 *
 * A build is stale when `.next/BUILD_ID` is older than any file or folder under app/
 * (a folder's time changes when a file in it is added, removed or renamed), than the server
 * modules the dashboard imports, than next.config.js, or than the installed Next.js (`npm ci`
 * rewrites node_modules).
 * Exit status: 0 when the build is fresh or was just made, 1 when `next build` failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Why a build is (or is not) needed, in words fit to print. */
export interface BuildState {
  stale: boolean;
  reason: string;
}

/** Options for {@link ensureBuild}. */
export interface EnsureBuildOptions {
  /** The Next.js project directory; default the repository root. */
  dir?: string;
  /** Where progress lines go; default stdout. */
  log?: (line: string) => void;
}

/** The repository root (this file lives in scripts/). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..');

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/** The newest entry under `root` (files and folders, recursively), or null when there is none. */
function newestUnder(root: string): { file: string; mtimeMs: number } | null {
  const rootStat = statOrNull(root);
  if (!rootStat) return null;
  let newest = { file: root, mtimeMs: rootStat.mtimeMs };
  if (!rootStat.isDirectory()) return newest;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const inner = newestUnder(path.join(root, entry.name));
    if (inner && inner.mtimeMs > newest.mtimeMs) newest = inner;
  }
  return newest;
}

/**
 * The sources a build depends on, relative to the project directory: app/, and the server
 * modules the dashboard imports (only these three, scripts/dependency-rules.cjs enforces it)
 * with the ones they import at run time. A change to server/columns once left a stale
 * dashboard decoding frames the hub no longer sent.
 */
const BUILD_INPUTS = [
  'app',
  'next.config.js',
  'node_modules/next/package.json',
  'server/protocol',
  'server/format.ts',
  'server/columns',
  'server/trainer/config.ts',
  'server/trainer/daemonErrors.ts',
  'server/trainer/eventSchema.ts',
  'server/trainer/events.ts',
];

/** Decides whether `dir` needs a `next build`, by comparing modification times. */
export function buildState(dir: string): BuildState {
  const buildId = path.join(dir, '.next', 'BUILD_ID');
  const built = statOrNull(buildId);
  if (!built) {
    return { stale: true, reason: `no build yet (${path.relative(dir, buildId)} is missing)` };
  }
  for (const input of BUILD_INPUTS) {
    const newest = newestUnder(path.join(dir, input));
    if (newest && newest.mtimeMs > built.mtimeMs) {
      return {
        stale: true,
        reason: `${path.relative(dir, newest.file)} changed after the last build`,
      };
    }
  }
  return { stale: false, reason: `build is up to date (${new Date(built.mtimeMs).toISOString()})` };
}

/** Runs `next build` in `dir` with this Node binary, its output going to ours. */
export function runNextBuild(dir: string): Promise<void> {
  const nextBin = createRequire(path.join(dir, 'package.json')).resolve('next/dist/bin/next');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin, 'build'], {
      cwd: dir,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
      // stdout would interleave with a test runner's protocol; send everything to stderr.
      stdio: ['ignore', process.stderr, process.stderr],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`next build failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * Builds the dashboard in `opts.dir` if {@link buildState} says it is stale, saying what
 * it does. Resolves to whether it built; rejects when `next build` fails.
 */
export async function ensureBuild(opts: EnsureBuildOptions = {}): Promise<boolean> {
  const dir = path.resolve(opts.dir ?? REPO_ROOT);
  const log = opts.log ?? ((line: string) => console.log(line));
  const state = buildState(dir);
  if (!state.stale) {
    log(`[ensure-build] ${state.reason}; not rebuilding`);
    return false;
  }
  log(`[ensure-build] ${state.reason}; running next build`);
  const started = performance.now();
  await runNextBuild(dir);
  log(
    `[ensure-build] next build finished in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return true;
}

function parseDirFlag(argv: string[]): string | undefined {
  const at = argv.indexOf('--dir');
  if (at === -1) return undefined;
  const value = argv[at + 1];
  if (!value || value.startsWith('--')) {
    throw new Error('usage: tsx scripts/ensure-build.ts [--dir DIR]');
  }
  return value;
}

async function main(): Promise<void> {
  try {
    await ensureBuild({ dir: parseDirFlag(process.argv.slice(2)) });
  } catch (err) {
    console.error(`[ensure-build] ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  await main();
}
