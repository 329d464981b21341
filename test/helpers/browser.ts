/**
 * A real Chromium (Debian's, driven by playwright-core; no browser download) and a real hub
 * process serving the built dashboard, for page tests. Without Chromium the tests skip with
 * the reason, unless LIVETRAIN_REQUIRE_SERVICES=1 (CI), where that is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { servicesRequired } from './db';
import { startHubProcess, type HubProcess } from './hubProcess';
import { ROOT } from './proc';

export const CHROMIUM = process.env.LIVETRAIN_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'artifacts', 'screenshots');

/** Chromium's flags for a closed network and a root user (see the env notes). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Options for {@link launchChromium}. */
export interface LaunchOptions {
  /**
   * Show classic scrollbars that take room from the page, as on a desktop (Playwright hides
   * them in headless mode by default, which leaves a page 15 px wider than people see it).
   */
  scrollbars?: boolean;
}

/** Launches Chromium, or skips `t` (fails under LIVETRAIN_REQUIRE_SERVICES=1) when it is missing. */
export async function launchChromium(
  t: TestContext,
  opts: LaunchOptions = {},
): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) {
    const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set LIVETRAIN_CHROMIUM)`;
    if (servicesRequired()) throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`);
    t.skip(reason);
    return null;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: FLAGS,
    ignoreDefaultArgs: opts.scrollbars ? ['--hide-scrollbars'] : [],
  });
  // Closed after `t` whatever happens: a test that fails before its own close must not leave
  // Chromium running, which keeps the test file's process from ever ending.
  t.after(() => browser.close());
  return browser;
}

export { startHubProcess, type HubProcess };

/**
 * Chromium and a hub process without a local trainer (runs wait, so a test drives them), both
 * closed after `t`; null when Chromium is missing (`t` skipped, or failed under
 * LIVETRAIN_REQUIRE_SERVICES=1).
 */
export async function chromiumAndHub(
  t: TestContext,
): Promise<{ browser: Browser; hub: HubProcess } | null> {
  const browser = await launchChromium(t);
  if (!browser) return null;
  const hub = await startHubProcess(['--no-local-trainer']);
  t.after(async () => {
    await browser.close();
    await hub.stop();
  });
  return { browser, hub };
}
