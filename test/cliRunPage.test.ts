/**
 * The run page of a run made from the command line says so, and from which host, in its
 * header (real Chromium, a hub process, a hand-written trainer sending `run:create`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromiumAndHub } from './helpers/browser';
import { fakeTrainer, trainerAuth } from './helpers/hub';

test('a run from the command line says so on its page, with the host it came from', async (t) => {
  const both = await chromiumAndHub(t);
  if (!both) return;
  const { browser, hub } = both;
  const cli = await fakeTrainer(hub.url, trainerAuth('cli-laptop-1', { takesJobs: false }));
  t.after(() => cli.close());
  const made = await cli.timeout(10_000).emitWithAck('run:create', {
    host: 'ada-laptop',
    name: 'from my terminal',
    hyperparams: { epochs: 1 },
  });
  assert.ok(made.ok, JSON.stringify(made));
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/runs/${made.data.runId}`);
  const origin = page.getByTestId('run-origin');
  await origin.waitFor({ timeout: 30_000 });
  assert.equal((await origin.textContent())?.trim(), 'started from the command line on ada-laptop');
  assert.equal(await page.getByTestId('run-name').textContent(), 'from my terminal');
  assert.deepEqual(errors, []);
});
