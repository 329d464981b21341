/**
 * `npm run screenshot`: retakes the README's picture of a live run (docs/screenshot.png), so
 * that it shows the dashboard as it is. Starts `npm start` on a free port with a throwaway
 * SQLite database and its local trainer, starts a run through the API, waits until it has
 * trained a while, and photographs its page in Chromium at 1280×800.
 *
 *   npm run screenshot -- [--steps 1200] [--out docs/screenshot.png]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1200' },
    out: { type: 'string', default: 'docs/screenshot.png' },
  },
});
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1)
  throw new Error(`--steps: a whole number above 0, got ${values.steps}`);

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-shot-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const hub = spawn('npm', ['start', '--', '--port', String(port)], {
  cwd: ROOT,
  env: { ...process.env, DATABASE_URL: `file:${path.join(dir, 'shot.db')}` },
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
});
const stop = async () => {
  if (hub.pid) process.kill(-hub.pid, 'SIGINT');
  await rm(dir, { recursive: true, force: true });
};
try {
  await until('the hub', 300_000, async () =>
    (await fetch(`${base}/api/health`)).ok ? true : undefined,
  );
  const started = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'sgd, lr 0.01', hyperparams: { epochs: 2 } }),
  });
  const { data } = (await started.json()) as { data: { run: { id: string } } };
  const runId = data.run.id;
  process.stderr.write(`screenshot: run ${runId}, waiting for ${steps} steps\n`);
  await until(`${steps} steps`, 600_000, async () => {
    const res = await fetch(`${base}/api/runs/${runId}`);
    const body = (await res.json()) as { data: { run: { lastStep: number } } };
    return body.data.run.lastStep >= steps ? true : undefined;
  });
  const browser = await chromium.launch({
    executablePath: process.env.LIVETRAIN_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${base}/runs/${runId}`);
  await page.locator('canvas').first().waitFor();
  await page.waitForTimeout(3000);
  await page.screenshot({ path: path.resolve(ROOT, values.out) });
  await browser.close();
  process.stderr.write(`screenshot: wrote ${values.out}\n`);
} finally {
  await stop();
}
