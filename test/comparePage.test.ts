/**
 * The compare page in a real Chromium against a real hub process: ids in the link that are not
 * runs are named and not counted, every chart exports PNG and SVG, and the picker shows each
 * run's date, tags and final test accuracy.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Download } from 'playwright-core';
import { openDatabase } from '../server/db/client';
import type { RunImport } from '../server/hub/storage/runs';
import { createStorage } from '../server/hub/storage/storage';
import { hyperparamsSchema } from '../server/trainer/config';
import { launchChromium, startHubProcess } from './helpers/browser';

const read = (download: Download) =>
  new Promise<Buffer>((resolve, reject) => {
    void download.createReadStream().then((stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('error', reject);
    });
  });

test('in Chromium: the compare page names ids it cannot show, exports each chart, and its picker tells runs apart', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-compare-'));
  const db = await openDatabase({ url: `file:${path.join(dir, 'hub.db')}` });
  const run = (
    id: string,
    name: string,
    accuracy: number,
    tags: string[],
    minute: number,
  ): RunImport => ({
    id,
    name,
    tags,
    status: 'completed',
    hyperparams: hyperparamsSchema.parse({ learningRate: accuracy / 10_000 }),
    createdBy: 'Ada',
    createdAt: new Date(Date.UTC(2026, 11, 2, 9, minute)),
    lastStep: 1875,
    totalSteps: 1875,
    finalTestAccuracy: accuracy,
  });
  try {
    await createStorage(db.prisma, db.provider).runs.insertMany([
      run('cmp-a', 'first try', 97.25, ['Baseline'], 1),
      run('cmp-b', 'second try', 98.5, [], 2),
    ]);
  } finally {
    await db.close();
  }
  const hub = await startHubProcess(['--no-local-trainer'], { dir });
  t.after(async () => {
    await browser.close();
    await hub.stop();
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));

  // An id that is no run: named, with the hub's reason, and not counted.
  await page.goto(`${hub.url}/compare?runs=nonexistent,cmp-a`);
  await page.getByTestId('compare-missing').waitFor();
  assert.equal(
    await page.getByTestId('compare-missing').innerText(),
    'One run of the link was not found: “nonexistent” (no run nonexistent). Pick runs to compare on the runs page.',
  );
  await page.getByTestId('compare-table').getByRole('link', { name: 'first try' }).waitFor();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Compare 1 run');

  // Two runs: each of the four charts has PNG and SVG buttons that export it.
  await page.goto(`${hub.url}/compare?runs=cmp-a,cmp-b`);
  await page.getByTestId('compare-table').getByRole('link', { name: 'second try' }).waitFor();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Compare 2 runs');
  assert.equal(await page.getByTestId('compare-missing').count(), 0);
  for (const id of [
    'compare-loss-chart',
    'compare-accuracy-chart',
    'compare-epoch-loss-chart',
    'compare-epoch-accuracy-chart',
  ]) {
    for (const kind of ['PNG', 'SVG'])
      assert.equal(
        await page.getByTestId(id).getByRole('button', { name: kind, exact: true }).count(),
        1,
        `${id} ${kind}`,
      );
  }
  const [svg] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('compare-loss-chart').getByRole('button', { name: 'SVG' }).click(),
  ]);
  assert.match(svg.suggestedFilename(), /\.svg$/);
  const svgText = (await read(svg)).toString('utf8');
  assert.ok(svgText.startsWith('<svg') || svgText.startsWith('<?xml'), svgText.slice(0, 80));
  const [png] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('compare-epoch-accuracy-chart').getByRole('button', { name: 'PNG' }).click(),
  ]);
  assert.match(png.suggestedFilename(), /\.png$/);
  assert.deepEqual([...(await read(png)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');

  // The picker: each run's date, tags and final test accuracy beside its name.
  await page.goto(`${hub.url}/compare`);
  const first = page.getByTestId('picker-run').filter({ hasText: 'first try' });
  await first.waitFor();
  assert.equal(
    await first.getByTestId('picker-date').innerText(),
    '2 Dec 2026, 09:01'.replace(
      '09:01',
      await page.evaluate(() =>
        new Date(Date.UTC(2026, 11, 2, 9, 1)).toLocaleTimeString('en-GB', {
          hour: '2-digit',
          minute: '2-digit',
        }),
      ),
    ),
  );
  assert.equal(await first.getByTestId('picker-accuracy').innerText(), '97.25 %');
  assert.equal(await first.getByTestId('picker-tags').innerText(), 'Baseline');
  assert.equal(
    await page
      .getByTestId('picker-run')
      .filter({ hasText: 'second try' })
      .getByTestId('picker-accuracy')
      .innerText(),
    '98.50 %',
  );
  assert.deepEqual(errors, [], 'no page errors');
});
