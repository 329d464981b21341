/**
 * The frame of the browser benches (bench:chart, bench:compare): the dashboard built, the real
 * hub started with a fake trainer connected, Chromium launched when the bench asks for it,
 * and everything stopped afterwards, on failure and on Ctrl-C too.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { ensureBuild } from '../../scripts/ensure-build';
import { FakeTrainer, startHub } from './chartHub';
import { CHROMIUM_PATH, launchChromium } from './chartPage';
import { cleanupAll, installCleanup } from './children';

/** What a browser bench works with. */
export interface BrowserBench {
  url: string;
  trainer: FakeTrainer;
  /** Launches Chromium (once; a bench first fills the hub, then opens pages). */
  browser(): Promise<Browser>;
}

/**
 * Runs `body` as the bench `name` (its progress lines go to stderr through `note`) with a
 * fake trainer taking up to `concurrency` runs, then exits: 0 when it finished, 1 when it threw.
 */
export function runBrowserBench(
  name: string,
  note: (line: string) => void,
  concurrency: number,
  body: (bench: BrowserBench) => Promise<void>,
): void {
  let browser: Browser | null = null;
  let trainer: FakeTrainer | null = null;
  /** Set on Ctrl-C: installCleanup's handler then owns the cleanup and the exit. */
  let interrupted = false;
  // On Ctrl-C Chromium is left to Playwright's exit handler, which kills it and removes its
  // profile synchronously; an async browser.close() here would be cut short by the exit.
  installCleanup(() => {
    interrupted = true;
    trainer?.close();
  });
  const main = async () => {
    if (!existsSync(CHROMIUM_PATH))
      throw new Error(
        `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium, or set LIVETRAIN_CHROMIUM)`,
      );
    try {
      note('checking the dashboard build (next build when stale)');
      await ensureBuild({ log: note });
      const hub = await startHub();
      note(`hub on ${hub.url}`);
      trainer = await FakeTrainer.connect(hub.url, concurrency);
      await body({
        url: hub.url,
        trainer,
        browser: async () => (browser ??= await launchChromium()),
      });
    } finally {
      trainer?.close();
      await browser?.close().catch(() => {});
      // A second cleanupAll racing the signal handler's would exit before its rm finished.
      if (!interrupted) await cleanupAll();
    }
  };
  main().catch(async (error) => {
    if (interrupted) return;
    process.stderr.write(
      `${name} failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    await cleanupAll();
    process.exit(1);
  });
}
