/**
 * A real Chromium (Debian's, driven by playwright-core; no browser download) and a real hub
 * process serving the built dashboard, for page tests. Without Chromium the tests skip with
 * the reason, unless LIVETRAIN_REQUIRE_SERVICES=1 (CI), where that is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { ensureBuild } from '../../scripts/ensure-build';
import { servicesRequired } from './db';
import { eventually } from './hub';
import { ROOT, spawnEntry } from './proc';

export const CHROMIUM = process.env.LIVETRAIN_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'artifacts', 'screenshots');

/** Chromium's flags for a closed network and a root user (see the env notes). */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

/** Launches Chromium, or skips `t` (fails under LIVETRAIN_REQUIRE_SERVICES=1) when it is missing. */
export async function launchChromium(t: TestContext): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) {
    const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set LIVETRAIN_CHROMIUM)`;
    if (servicesRequired()) throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`);
    t.skip(reason);
    return null;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

export interface HubProcess {
  url: string;
  /** The database's directory (reuse it to restart the hub on the same data). */
  dir: string;
  output: () => string;
  /** Stops the hub; the database directory is removed unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * `npm start` in production mode with a local wasm trainer: on a free port with a fresh
 * SQLite file, or on `port` over the database in `dir` (a restart).
 */
export async function startHubProcess(extraArgs: string[] = [], reuse: { port?: number; dir?: string } = {}): Promise<HubProcess> {
  await ensureBuild({ log: () => {} });
  const dir = reuse.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'livetrain-web-')));
  const child = spawnEntry('server/index.ts', ['--port', String(reuse.port ?? 0), '--trainer-backend', 'wasm', ...extraArgs], {
    DATABASE_URL: `file:${path.join(dir, 'web.db')}`,
    LIVETRAIN_TOKEN: '',
    LIVETRAIN_TRAINER_TOKEN: '',
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await eventually(() => /listening on (http:\/\/[^\s]+)/.exec(log)?.[1], `hub listening (${log})`, 60_000);
  await eventually(async () => ((await (await fetch(`${url}/api/health`)).json()) as { data: { trainers: number } }).data.trainers >= 1, 'local trainer registered', 60_000);
  return {
    url,
    dir,
    output: () => log,
    async stop(opts = {}) {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      if (!opts.keepData) await rm(dir, { recursive: true, force: true });
    },
  };
}
