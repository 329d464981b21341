/**
 * The dashboard's layout in a real Chromium at 400, 768 and 1280 px wide, against a real hub
 * process and its local trainer: no page scrolls sideways, wide tables scroll in their own
 * box, the confusion matrix fits, the live predictions fill their rows, cards keep their own
 * height and the start form's inputs line up. Chromium shows classic scrollbars, so a 400 px
 * window leaves the page 385 px, as on a desktop. Full-page screenshots of the runs page and
 * the run page at each width go to artifacts/screenshots/layout-<page>-<width>.png.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { ARTIFACTS, launchChromium, startHubProcess } from './helpers/browser';
import { eventually } from './helpers/hub';

const WIDTHS = [400, 768, 1280] as const;
const HYPERPARAMS = { epochs: 2, trainLimit: 640, testLimit: 200 };

/** Starts a short run through the HTTP API; resolves with its id. */
async function createRun(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, hyperparams: HYPERPARAMS }),
  });
  assert.equal(res.status, 201, `POST /api/runs for ${name}`);
  return ((await res.json()) as { data: { run: { id: string } } }).data.run.id;
}

const statusOf = async (url: string, id: string) =>
  ((await (await fetch(`${url}/api/runs/${id}`)).json()) as { data: { run: { status: string } } })
    .data.run.status;

/** How far the page reaches past the window's width (the vertical scrollbar excluded). */
const sidewaysOverflow = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

/** Last on a page: a full-page screenshot hides the scrollbars until the next navigation. */
const shot = (page: Page, name: string, width: number) =>
  page.screenshot({ path: path.join(ARTIFACTS, `layout-${name}-${width}.png`), fullPage: true });

/**
 * Tables that reach past their box's content edge with no box of their own to scroll in, and
 * columns of the runs list that are not shown at all.
 */
const tableReach = (page: Page) =>
  page.evaluate(() => {
    const spilling: string[] = [];
    for (const table of document.querySelectorAll('main table')) {
      const parent = table.parentElement!;
      const style = getComputedStyle(parent);
      const contentRight =
        parent.getBoundingClientRect().left +
        parent.clientLeft +
        parent.clientWidth -
        parseFloat(style.paddingRight);
      const scrolls = ['auto', 'scroll'].includes(style.overflowX);
      if (!scrolls && table.getBoundingClientRect().right > contentRight + 0.5)
        spilling.push(
          `${table.className} (${Math.round(table.getBoundingClientRect().right - contentRight)}px)`,
        );
    }
    // A narrow window's compact runs list hides its secondary columns behind "All columns".
    // (Inline, not a named helper: the page runs this as text, without tsx's __name.)
    const toggle = document.querySelector('[data-testid="all-columns"]') as HTMLElement | null;
    const compact = (toggle?.offsetWidth ?? 0) > 0;
    const hidden = [...document.querySelectorAll('table.runs-table thead th')]
      .filter(
        (th) =>
          (th as HTMLElement).offsetWidth === 0 &&
          !(compact && th.classList.contains('col-secondary')),
      )
      .map((th) => th.textContent || '(select)');
    return { spilling, hidden };
  });

/** The confusion matrix's columns that reach outside its card or the window. */
const clippedColumns = (page: Page) =>
  page.locator('section[aria-labelledby="confusion-title"]').evaluate((card) => {
    const box = card.getBoundingClientRect();
    const right = Math.min(box.right, document.documentElement.clientWidth);
    const out: number[] = [];
    for (let col = 0; col < 10; col++) {
      const cell = card.querySelector(`[data-cell="0-${col}"]`)?.getBoundingClientRect();
      if (!cell || cell.width === 0 || cell.left < box.left - 0.5 || cell.right > right + 0.5)
        out.push(col);
    }
    return out;
  });

/** Items per row of the live prediction grid, rows told apart by offsetTop. */
const predictionRows = (page: Page) =>
  page.locator('.prediction-grid').evaluate((grid) => {
    const rows = new Map<number, number>();
    for (const li of grid.querySelectorAll(':scope > li')) {
      const top = (li as HTMLElement).offsetTop;
      rows.set(top, (rows.get(top) ?? 0) + 1);
    }
    return [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  });

/**
 * Heights of the start form's inputs and menus, and the optimizer menu's width next to the
 * width it takes to show its longest option: the same menu at its own (auto) width.
 * (A menu's scrollWidth does not tell: Chromium reports it equal to clientWidth when its text is cut.)
 */
const formMetrics = (page: Page) =>
  page.locator('form.start-form').evaluate((form) => {
    const controls = [...form.querySelectorAll('input, select')] as HTMLElement[];
    const heights = controls.map((c) => ({
      id: c.id,
      height: Math.round(c.getBoundingClientRect().height * 10) / 10,
    }));
    const select = form.querySelector('#hp-optimizer') as HTMLSelectElement;
    const own = select.cloneNode(true) as HTMLSelectElement;
    own.removeAttribute('id');
    Object.assign(own.style, {
      position: 'absolute',
      visibility: 'hidden',
      width: 'auto',
      minWidth: '0',
      maxWidth: 'none',
    });
    select.after(own);
    const needed = own.getBoundingClientRect().width;
    own.remove();
    return {
      heights,
      optimizer: {
        width: select.getBoundingClientRect().width,
        needed,
        scrollWidth: select.scrollWidth,
        clientWidth: select.clientWidth,
      },
    };
  });

/** The off-diagonal confusion cell with the most digits (there is one after two epochs). */
const busiestWrongCell = (page: Page) =>
  page.locator('.lt-confusion').evaluate((svg) => {
    let best = { key: '', count: 0 };
    for (const g of svg.querySelectorAll('[data-cell]')) {
      const [label, predicted] = g.getAttribute('data-cell')!.split('-');
      const count = Number(/: (\d+) digit/.exec(g.getAttribute('aria-label') ?? '')?.[1] ?? 0);
      if (label !== predicted && count > best.count) best = { key: `${label}-${predicted}`, count };
    }
    return best;
  });

/** The draw-digit card's height, and how far it reaches below its own content. */
const drawCard = (page: Page) =>
  page.locator('section[aria-labelledby="draw-title"]').evaluate((card) => {
    const box = card.getBoundingClientRect();
    const content =
      card.lastElementChild!.getBoundingClientRect().bottom +
      parseFloat(getComputedStyle(card).paddingBottom) +
      card.clientTop;
    return { height: box.height, slack: box.bottom - content };
  });

async function checkRunsPage(
  t: TestContext,
  page: Page,
  url: string,
  width: number,
): Promise<void> {
  await page.goto(`${url}/`);
  await page.locator('[data-testid="run-row"]').nth(1).waitFor();
  await page.locator('.conn', { hasText: 'live' }).waitFor();
  await t.test(`runs page at ${width}px: no sideways scroll`, async () => {
    const over = await sidewaysOverflow(page);
    assert.ok(over <= 0, `the runs page is ${over}px wider than its ${width}px window`);
  });
  await t.test(`runs page at ${width}px: every column of the runs list can be seen`, async () => {
    const { spilling, hidden } = await tableReach(page);
    assert.deepEqual(hidden, [], 'columns hidden with no way to see them');
    assert.deepEqual(spilling, [], 'tables wider than their box, which does not scroll');
  });
  await t.test(`runs page at ${width}px: the form's inputs have one height`, async () => {
    const { heights } = await formMetrics(page);
    assert.equal(
      new Set(heights.map((h) => h.height)).size,
      1,
      `input heights: ${heights.map((h) => `${h.id} ${h.height}`).join(', ')}`,
    );
  });
  await t.test(`runs page at ${width}px: the optimizer menu shows its whole text`, async () => {
    const { optimizer: o } = await formMetrics(page);
    assert.ok(
      o.scrollWidth <= o.clientWidth,
      `scrollWidth ${o.scrollWidth} > clientWidth ${o.clientWidth}`,
    );
    assert.ok(
      o.width + 0.5 >= o.needed,
      `the optimizer menu is ${o.width.toFixed(1)}px wide; its text needs ${o.needed.toFixed(1)}px`,
    );
  });
  await shot(page, 'runs', width);
}

async function checkRunPage(
  t: TestContext,
  page: Page,
  url: string,
  runId: string,
  width: number,
): Promise<void> {
  await page.goto(`${url}/runs/${runId}`);
  await eventually(
    async () => (await page.getByTestId('run-status').first().innerText()) === 'completed',
    'the run page shows completed',
  );
  await page.locator('table.epoch-table tbody tr').nth(1).waitFor();
  await page.locator('.lt-confusion [data-cell="9-9"]').waitFor();
  await eventually(
    async () => (await page.locator('.prediction-grid > li').count()) === 16,
    '16 live predictions',
  );
  await page.locator('.mis-grid__list li canvas').first().waitFor();
  await t.test(`run page at ${width}px: no sideways scroll`, async () => {
    const over = await sidewaysOverflow(page);
    assert.ok(over <= 0, `the run page is ${over}px wider than its ${width}px window`);
    assert.deepEqual(
      (await tableReach(page)).spilling,
      [],
      'tables wider than their box, which does not scroll',
    );
  });
  await t.test(
    `run page at ${width}px: the confusion matrix's 10 columns are in view`,
    async () => {
      assert.deepEqual(
        await clippedColumns(page),
        [],
        'columns outside the confusion card or the window',
      );
    },
  );
  await t.test(`run page at ${width}px: the live predictions fill their rows`, async () => {
    const rows = await predictionRows(page);
    assert.ok(
      rows.every((n) => n === rows[0]) && rows[0] > 1,
      `items per row: ${rows.join(' + ')}`,
    );
  });
  await t.test(
    `run page at ${width}px: opening a confusion cell leaves the draw card's height alone`,
    async () => {
      const before = await drawCard(page);
      const cell = await busiestWrongCell(page);
      assert.ok(cell.count > 0, 'a misclassified cell to open');
      await page.locator(`.lt-confusion [data-cell="${cell.key}"]`).click();
      await page.locator('.confusion-section__detail .mis-grid__list li canvas').first().waitFor();
      await page.evaluate(
        () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
      );
      const after = await drawCard(page);
      // The card's content does not change: neither may its height (stretched to a taller neighbour).
      assert.ok(
        Math.abs(after.height - before.height) <= 1,
        `the draw card went from ${Math.round(before.height)}px to ${Math.round(after.height)}px`,
      );
      assert.ok(
        after.slack <= 1,
        `the draw card reaches ${Math.round(after.slack)}px below its content`,
      );
    },
  );
  await shot(page, 'run', width);
}

async function checkComparePage(
  t: TestContext,
  page: Page,
  url: string,
  ids: string[],
  width: number,
): Promise<void> {
  await page.goto(`${url}/compare?runs=${ids.join(',')}`);
  for (const name of ['layout', 'layout twin'])
    await page.getByTestId('compare-table').getByRole('link', { name, exact: true }).waitFor();
  await page.getByTestId('compare-batch').locator('canvas').first().waitFor();
  await t.test(`compare page at ${width}px: no sideways scroll`, async () => {
    const over = await sidewaysOverflow(page);
    assert.ok(over <= 0, `the compare page is ${over}px wider than its ${width}px window`);
    assert.deepEqual(
      (await tableReach(page)).spilling,
      [],
      'tables wider than their box, which does not scroll',
    );
  });
}

test('the dashboard fits 400, 768 and 1280 px wide windows', async (t) => {
  const browser = await launchChromium(t, { scrollbars: true });
  if (!browser) return;
  const hub = await startHubProcess();
  t.after(async () => {
    await browser.close();
    await hub.stop();
  });
  const ids = [await createRun(hub.url, 'layout'), await createRun(hub.url, 'layout twin')];
  for (const id of ids)
    await eventually(
      async () => (await statusOf(hub.url, id)) === 'completed',
      `run ${id} completed`,
      120_000,
    );

  const errors: string[] = [];
  for (const width of WIDTHS) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    await context.addInitScript(() => localStorage.setItem('livetrain.name', 'Layout'));
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${width}px: ${e.message}`));
    await checkRunsPage(t, page, hub.url, width);
    await checkRunPage(t, page, hub.url, ids[0], width);
    await checkComparePage(t, page, hub.url, ids, width);
    await context.close();
  }
  assert.deepEqual(errors, [], 'no page errors');
});
