/**
 * The hub as a real process (`server/index.ts`, what `npm start` runs) for tests: on a free
 * port with a fresh SQLite file, or on a given port over an earlier one's data (a restart).
 * It builds the dashboard first unless `--no-web`, and waits for its local trainer unless
 * `--no-local-trainer`.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBuild } from '../../scripts/ensure-build';
import { eventually } from './hub';
import { spawnEntry } from './proc';

export interface HubProcess {
  url: string;
  /** The database's directory (reuse it to restart the hub on the same data). */
  dir: string;
  databaseUrl: string;
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit signal, or the exit code. */
  exited: Promise<string | number | null>;
  /** Everything the process wrote to stdout and stderr. */
  output: () => string;
  /** Stops the hub (SIGTERM); the database directory is removed unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * @param reuse - `port` and `dir` of an earlier hub to restart it; `databaseUrl` (e.g.
 *   PostgreSQL) instead of the SQLite file in `dir`; `env` added to the process's environment.
 */
export async function startHubProcess(
  extraArgs: string[] = [],
  reuse: { port?: number; dir?: string; databaseUrl?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<HubProcess> {
  if (!extraArgs.includes('--no-web')) await ensureBuild({ log: () => {} });
  const dir = reuse.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'livetrain-hub-process-')));
  const databaseUrl = reuse.databaseUrl ?? `file:${path.join(dir, 'hub.db')}`;
  const child = spawnEntry(
    'server/index.ts',
    ['--port', String(reuse.port ?? 0), '--trainer-backend', 'wasm', ...extraArgs],
    {
      DATABASE_URL: databaseUrl,
      LIVETRAIN_TOKEN: '',
      LIVETRAIN_TRAINER_TOKEN: '',
      REDIS_URL: '',
      ...reuse.env,
    },
  );
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<string | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const url = await eventually(
    () => /listening on (http:\/\/[^\s]+)/.exec(log)?.[1],
    `hub listening (${log})`,
    60_000,
  );
  if (!extraArgs.includes('--no-local-trainer')) {
    await eventually(
      async () =>
        ((await (await fetch(`${url}/api/health`)).json()) as { data: { trainers: number } }).data
          .trainers >= 1,
      'local trainer registered',
      60_000,
    );
  }
  return {
    url,
    dir,
    databaseUrl,
    child,
    exited,
    output: () => log,
    async stop(opts = {}) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      if (!opts.keepData) await rm(dir, { recursive: true, force: true });
    },
  };
}
