/**
 * The start form in a real Chromium against a real hub: bad input is an error next to its
 * field in words and starts nothing (letters in a number field, an emptied field, a value out
 * of range), the inputs' bounds are the schema's, each optimizer shows its own settings, an
 * error does not move its neighbours, and a good form starts the run it says.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { RunSummary } from '../server/protocol';
import { ARTIFACTS, chromiumAndHub } from './helpers/browser';

test("the start form: errors in words next to their fields, nothing started on bad input, Adam's own settings", async (t) => {
  const both = await chromiumAndHub(t);
  if (!both) return;
  const { browser, hub } = both;
  const runs = async () =>
    ((await (await fetch(`${hub.url}/api/runs`)).json()) as { data: { runs: RunSummary[] } }).data
      .runs;
  // 768 px: the form has several fields a row, so an error has neighbours beside it.
  const page = await browser.newPage({ viewport: { width: 768, height: 1000 } });
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/`);
  const start = page.getByRole('button', { name: 'Start run' });
  await page.waitForFunction(
    () =>
      !(document.querySelector('form.start-form button[type=submit]') as HTMLButtonElement | null)
        ?.disabled,
  );
  const errorOf = (key: string) => page.locator(`#err-${key}`).innerText();
  const typeInto = async (p: Page, id: string, text: string) => {
    await p.locator(id).click();
    await p.keyboard.press('ControlOrMeta+a');
    await p.keyboard.press('Backspace');
    if (text) await p.keyboard.type(text);
  };

  // The bounds on the inputs are the schema's; an exclusive one (above 0) is not an attribute.
  const attrs = (id: string) =>
    page.locator(id).evaluate((el) => ['min', 'max', 'step'].map((a) => el.getAttribute(a)));
  assert.deepEqual(await attrs('#hp-epochs'), ['1', '1000', '1']);
  assert.deepEqual(await attrs('#hp-learningRate'), [null, '10', 'any']);
  assert.deepEqual(await attrs('#hp-momentum'), ['0', null, 'any']);
  assert.equal(
    await page.locator('#hp-trainLimit').getAttribute('placeholder'),
    'all 60,000',
    'an optional field says what is used when empty',
  );

  // Text the browser cannot read as a number in the learning rate ("1e": Chromium keeps it
  // and gives the page ''), letters in the seed (Chromium drops them, leaving it empty),
  // Epochs emptied: errors in words, nothing started.
  const neighbour = async () => page.locator('#hp-batchSize').boundingBox();
  const before = await neighbour();
  assert.equal(
    before?.y,
    (await page.locator('#hp-epochs').boundingBox())?.y,
    'Batch size sits beside Epochs at this width',
  );
  await typeInto(page, '#hp-learningRate', '1e');
  await typeInto(page, '#hp-seed', 'abc');
  await typeInto(page, '#hp-epochs', '');
  await start.click();
  assert.equal(
    await errorOf('learningRate'),
    'Learning rate: a number above 0 and at most 10 — what is typed is not a number',
  );
  assert.equal(await errorOf('seed'), 'Seed: required — a whole number from 0 to 2,147,483,647');
  assert.equal(await errorOf('epochs'), 'Epochs: required — a whole number from 1 to 1,000');
  await typeInto(page, '#hp-seed', '1');
  assert.deepEqual(
    await neighbour(),
    before,
    'an error under one field does not move or stretch its neighbour',
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'start-form-errors.png') });
  assert.deepEqual(await runs(), [], 'bad input started nothing (no default run)');

  // Out of range: the rule and what was given.
  await typeInto(page, '#hp-epochs', '0');
  await typeInto(page, '#hp-learningRate', '0');
  await start.click();
  assert.equal(await errorOf('epochs'), 'Epochs: a whole number from 1 to 1,000, got 0');
  assert.equal(
    await errorOf('learningRate'),
    'Learning rate: a number above 0 and at most 10, got 0',
  );
  assert.deepEqual(await runs(), []);

  // Limits across fields and the data set (its sizes from the hub): at the fields that cause
  // them, with the reason; never "Epochs: … got 1".
  await typeInto(page, '#hp-epochs', '1');
  await typeInto(page, '#hp-learningRate', '0.01');
  await typeInto(page, '#hp-trainLimit', '70000');
  await start.click();
  assert.equal(
    await errorOf('trainLimit'),
    'Training digits: the data set has only 60,000 training images, got 70,000',
  );
  await typeInto(page, '#hp-trainLimit', '99999999');
  await typeInto(page, '#hp-testLimit', '10001');
  await start.click();
  assert.equal(
    await errorOf('trainLimit'),
    'Training digits: the data set has only 60,000 training images, got 99,999,999',
  );
  assert.equal(
    await errorOf('testLimit'),
    'Test digits: the data set has only 10,000 test images, got 10,001',
  );
  assert.equal(await page.locator('#err-epochs').count(), 0, 'nothing under Epochs');
  await typeInto(page, '#hp-trainLimit', '');
  await typeInto(page, '#hp-testLimit', '');
  await typeInto(page, '#hp-epochs', '1000');
  await typeInto(page, '#hp-batchSize', '1');
  await start.click();
  for (const [key, label] of [
    ['epochs', 'Epochs'],
    ['batchSize', 'Batch size'],
    ['trainLimit', 'Training digits'],
  ] as const) {
    const text = await errorOf(key);
    assert.ok(
      text.startsWith(
        `${label}: this run would record 60,000,000 batch points (1,000 epochs × 60,000 batches); a run may record at most 2,000,000`,
      ),
      text,
    );
    assert.match(text, /batch size \(now 1\) or fewer training digits \(now all 60,000\)/);
    assert.doesNotMatch(text, /got 1\b/);
  }
  assert.deepEqual(await runs(), [], 'refused limits started nothing');
  await typeInto(page, '#hp-batchSize', '32');

  // Adam: its settings instead of SGD's momentum.
  await page.locator('#hp-optimizer').selectOption('adam');
  assert.equal(await page.locator('#hp-momentum').count(), 0, 'no momentum for Adam');
  for (const id of ['#hp-beta1', '#hp-beta2', '#hp-epsilon']) await page.locator(id).waitFor();
  await typeInto(page, '#hp-epochs', '2');
  await typeInto(page, '#hp-learningRate', '0.002');
  await typeInto(page, '#hp-beta1', '1');
  await start.click();
  assert.equal(await errorOf('beta1'), 'β₁: a number from 0 up to but not including 1, got 1');
  assert.deepEqual(await runs(), []);

  // A good form starts exactly that run.
  await typeInto(page, '#hp-beta1', '0.8');
  await typeInto(page, '#hp-trainLimit', '64');
  await page.getByLabel('Name (optional)').fill('adam run');
  await start.click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  const [run] = await runs();
  assert.deepEqual(
    [
      run.name,
      run.hyperparams.optimizer,
      run.hyperparams.epochs,
      run.hyperparams.learningRate,
      run.hyperparams.beta1,
      run.hyperparams.trainLimit,
      run.hyperparams.testLimit,
    ],
    ['adam run', 'adam', 2, 0.002, 0.8, 64, null],
  );
  assert.equal(
    await page.getByTestId('run-optimizer').innerText(),
    'β₁ 0.8 · β₂ 0.999 · ε 1e-8',
    "the header shows Adam's settings, not momentum",
  );
});
