/**
 * Two hubs behind nginx running docs/nginx.conf (round-robin, no sticky sessions): browsers
 * and a trainer that know only the balancer's address land on either hub, and every one of
 * them follows the run exactly. Skipped without nginx (apt-get install nginx-light), except
 * under LIVETRAIN_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { assertSawStored, startTwoHubs } from './helpers/cluster';
import { postgresDatabases, servicesRequired } from './helpers/db';
import { launchChromium, startHubProcess } from './helpers/browser';
import { connectBrowser, eventually, SMALL, startTrainer } from './helpers/hub';
import { sharedRedis } from './helpers/redis';
import type { Page } from 'playwright-core';
import { freePort, ROOT } from './helpers/proc';
import type { RunSnapshot } from '../server/protocol';

const pgdb = postgresDatabases();
after(() => pgdb.dropAll());

/** nginx in the foreground with docs/nginx.conf, pointed at `hubs`, on a free port. */
async function startNginx(hubs: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-nginx-'));
  const port = await freePort();
  const site = (await readFile(path.join(ROOT, 'docs/nginx.conf'), 'utf8'))
    .replace(
      /upstream livetrain_hubs \{[^}]*\}/,
      `upstream livetrain_hubs {\n${hubs.map((h) => `    server ${new URL(h).host};`).join('\n')}\n}`,
    )
    .replace('listen 80;', `listen 127.0.0.1:${port};`);
  assert.ok(
    site.includes(`listen 127.0.0.1:${port};`) && site.includes(new URL(hubs[1]).host),
    'the documented config has the expected shape',
  );
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `${k}_temp_path ${dir}/${k};`)
    .join(' ');
  const root = process.getuid?.() === 0 ? 'user root;' : '';
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `${root} pid ${dir}/nginx.pid; error_log ${dir}/error.log;\nevents {}\nhttp { access_log off; ${temp}\n${site}\n}\n`,
  );
  const child = spawn(
    'nginx',
    ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => (await fetch(`${url}/api/health`).catch(() => null))?.ok,
    `nginx up (${output})`,
    15_000,
  );
  return {
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether nginx is installed; skips `t` (fails under LIVETRAIN_REQUIRE_SERVICES=1) when not. */
function haveNginx(t: TestContext): boolean {
  if (spawnSync('nginx', ['-v']).status === 0) return true;
  const reason = 'nginx is not installed (apt-get install nginx-light)';
  if (servicesRequired()) throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`);
  t.skip(reason);
  return false;
}

test('behind a round-robin load balancer without sticky sessions, browsers and a trainer on either hub all follow the run exactly', async (t) => {
  if (!haveNginx(t)) return;
  const hubs = await startTwoHubs(t, pgdb);
  if (!hubs) return;
  const [a, b] = hubs;
  const lb = await startNginx([a.url, b.url]);
  t.after(() => lb.stop());

  const trainer = await startTrainer(lb.url, { id: 'behind-lb' });
  const names = ['Ada', 'Bob', 'Cy', 'Di'];
  const browsers: Awaited<ReturnType<typeof connectBrowser>>[] = [];
  for (const name of names) browsers.push(await connectBrowser(lb.url, name));
  t.after(async () => {
    browsers.forEach((br) => br.close());
    await trainer.stop();
  });
  const onA = a.hub.io.sockets.sockets.size;
  const onB = b.hub.io.sockets.sockets.size;
  assert.ok(
    onA > 0 && onB > 0,
    `the balancer spread the browsers over both hubs (${onA} + ${onB})`,
  );

  const res = await fetch(`${lb.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 2, trainLimit: 960 } }),
  });
  const runId = ((await res.json()) as { data: { run: { id: string } } }).data.run.id;
  const snapshots: RunSnapshot[] = [];
  for (const br of browsers) {
    const watched = await br.call('run:watch', { runId });
    assert.ok(watched.ok);
    snapshots.push(watched.data);
  }
  const presence = await browsers[0].waitFor(
    'presence',
    (p) => p.runId === runId && p.users.length === names.length,
    15_000,
  );
  assert.deepEqual(
    presence.users.map((u) => u.name),
    names,
  );
  await browsers[3].waitFor(
    'run:status',
    (m) => m.runId === runId && m.status === 'completed',
    120_000,
  );
  for (const [i, br] of browsers.entries())
    await assertSawStored(a, br, runId, snapshots[i], names[i]);
});

test('the dashboard in two real browsers through the load balancer: pages and sockets on either hub, one run, one note', async (t) => {
  if (!haveNginx(t)) return;
  const browser = await launchChromium(t);
  if (!browser) return;
  t.after(() => browser.close());
  const databaseUrl = await pgdb.create(t);
  const redis = await sharedRedis(t);
  if (!databaseUrl || !redis) return;
  const env = { REDIS_URL: redis.url, LIVETRAIN_REDIS_PREFIX: redis.prefix };
  // Hub 1 runs a local trainer; hub 2 serves pages and sockets only.
  const one = await startHubProcess([], { databaseUrl, env });
  const two = await startHubProcess(['--no-local-trainer'], { databaseUrl, env });
  const lb = await startNginx([one.url, two.url]);
  t.after(async () => {
    await lb.stop();
    await one.stop();
    await two.stop();
  });

  const res = await fetch(`${lb.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'team run',
      hyperparams: { epochs: 30, trainLimit: 640, testLimit: 200 },
    }),
  });
  const runId = ((await res.json()) as { data: { run: { id: string } } }).data.run.id;
  const errors: string[] = [];
  const pages: Page[] = [];
  for (const name of ['Ada', 'Bob']) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((n) => localStorage.setItem('livetrain.name', n), name);
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${lb.url}/runs/${runId}`);
    pages.push(page);
  }
  const stepOf = async (page: Page) =>
    Number(
      (await page.getByTestId('progress-step').innerText()).split('/')[0].replace(/[^\d]/g, '') ||
        0,
    );
  await eventually(
    async () => (await stepOf(pages[0])) > 10 && (await stepOf(pages[1])) > 10,
    'both pages show the run training',
  );
  const before = await stepOf(pages[1]);
  await eventually(async () => (await stepOf(pages[1])) > before + 10, 'the curve keeps growing');
  const note = await fetch(`${lb.url}/api/runs/${runId}/annotations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ step: before, text: 'seen on every hub', author: 'api' }),
  });
  assert.equal(note.status, 201);
  for (const page of pages)
    await page
      .getByTestId('annotation')
      .filter({ hasText: 'seen on every hub' })
      .waitFor({ timeout: 15_000 });
  // Both people are listed on both pages, whichever hub their sockets reached.
  for (const page of pages)
    for (const name of ['Ada', 'Bob'])
      await page
        .getByTestId('presence-user')
        .filter({ hasText: name })
        .first()
        .waitFor({ timeout: 15_000 });
  assert.deepEqual(errors, [], 'no page errors');
  const browsersOn = async (hub: string) =>
    ((await (await fetch(`${hub}/api/health`)).json()) as { data: { hub: { browsers: number } } })
      .data.hub.browsers;
  assert.equal(
    (await browsersOn(one.url)) + (await browsersOn(two.url)),
    2,
    'one socket per page, on whichever hub the balancer chose',
  );
});
