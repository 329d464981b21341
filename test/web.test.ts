/**
 * The dashboard served by Next.js behind a plain HTTP server by createWebHandler in
 * production mode (built first if the build is stale); and the real hub process, where
 * `/api/*` is the hub's and everything else the dashboard's. Also the build staleness rule
 * and the missing-build error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildState, ensureBuild, REPO_ROOT } from '../scripts/ensure-build';
import { createWebHandler, MissingBuildError, type WebHandler } from '../server/web';
import { connectBrowser, SMALL } from './helpers/hub';
import { startHubProcess, type HubProcess } from './helpers/hubProcess';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'livetrain-web-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a build is stale when BUILD_ID is missing or older than app/ or next.config.js', async () => {
  await withTempDir(async (dir) => {
    await mkdir(path.join(dir, 'app', 'nested'), { recursive: true });
    await writeFile(path.join(dir, 'app', 'nested', 'page.tsx'), '');
    await writeFile(path.join(dir, 'next.config.js'), '');
    assert.match(buildState(dir).reason, /BUILD_ID is missing/);

    await mkdir(path.join(dir, '.next'));
    await writeFile(path.join(dir, '.next', 'BUILD_ID'), 'x');
    const at = (seconds: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, seconds));
    for (const entry of ['app', 'app/nested', 'app/nested/page.tsx', 'next.config.js']) {
      await utimes(path.join(dir, entry), at(0), at(0));
    }
    await utimes(path.join(dir, '.next', 'BUILD_ID'), at(10), at(10));
    assert.equal(buildState(dir).stale, false);

    await utimes(path.join(dir, 'app', 'nested', 'page.tsx'), at(20), at(20));
    assert.deepEqual(buildState(dir), {
      stale: true,
      reason: `${path.join('app', 'nested', 'page.tsx')} changed after the last build`,
    });

    await utimes(path.join(dir, 'app', 'nested', 'page.tsx'), at(0), at(0));
    await utimes(path.join(dir, 'next.config.js'), at(20), at(20));
    assert.equal(buildState(dir).stale, true);

    // The server modules the dashboard imports are inputs too.
    await utimes(path.join(dir, 'next.config.js'), at(0), at(0));
    await mkdir(path.join(dir, 'server', 'columns'), { recursive: true });
    await writeFile(path.join(dir, 'server', 'columns', 'codec.ts'), '');
    await utimes(path.join(dir, 'server', 'columns', 'codec.ts'), at(0), at(0));
    await utimes(path.join(dir, 'server', 'columns'), at(0), at(0));
    assert.equal(buildState(dir).stale, false);
    await utimes(path.join(dir, 'server', 'columns', 'codec.ts'), at(20), at(20));
    assert.deepEqual(buildState(dir), {
      stale: true,
      reason: `${path.join('server', 'columns', 'codec.ts')} changed after the last build`,
    });
  });
});

test('production mode without a build fails with a message that says to run npm run build', async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(createWebHandler({ dev: false, dir }), (err: unknown) => {
      assert.ok(err instanceof MissingBuildError);
      assert.match(err.message, /npm run build/);
      assert.match(err.message, /BUILD_ID/);
      return true;
    });
  });
});

describe('the built dashboard behind a plain HTTP server', () => {
  let server: Server;
  let web: WebHandler | undefined;
  let base: string;

  before(async () => {
    await ensureBuild({ dir: REPO_ROOT, log: (line) => console.error(line) });
    server = createServer((req, res) => {
      if (web) web.handle(req, res);
      else res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    web = await createWebHandler({ dev: false, dir: REPO_ROOT, hostname: '127.0.0.1', port });
  });

  after(async () => {
    await web?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
  });

  test('/ is the dashboard page, and the static assets it references are served', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(
      html,
      /<title>Runs · Livetrain<\/title>/,
      'the server-rendered page names its tab',
    );
    assert.match(html, /<h1 class="sr-only">Livetrain runs<\/h1>/);

    const assets = [...new Set(html.match(/\/_next\/static\/[^"'\s<>]+/g) ?? [])];
    assert.ok(
      assets.some((a) => a.endsWith('.js')),
      `no script in ${assets.join(', ')}`,
    );
    assert.ok(
      assets.some((a) => a.endsWith('.css')),
      `no stylesheet in ${assets.join(', ')}`,
    );
    for (const asset of assets) {
      const response = await fetch(`${base}${asset}`);
      assert.equal(response.status, 200, asset);
      await response.arrayBuffer();
    }
  });

  test('unknown pages get Next 404', async () => {
    const missing = await fetch(`${base}/no-such-page`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /text\/html/);
    await missing.arrayBuffer();
  });

  test('Next does not add an upgrade listener to the server, and has no upgrade handler in production', async () => {
    const page = await fetch(`${base}/`);
    await page.arrayBuffer();
    assert.equal(server.listenerCount('upgrade'), 0);
    assert.equal(web?.handleUpgrade, undefined);
  });
});

describe("the real hub process: /api/* is the hub's, the rest the dashboard's", () => {
  let hub: HubProcess;

  before(async () => {
    hub = await startHubProcess(['--no-local-trainer']);
  });
  after(async () => {
    await hub?.stop();
  });

  test('/api/* stays with the hub (its runs, its JSON 404), and unknown pages get Next 404', async () => {
    // A run the hub knows, started over Socket.IO, so that /api/runs has something of its own.
    const ada = await connectBrowser(hub.url, 'Ada');
    const started = await ada.call('run:start', {
      name: 'api through the hub',
      hyperparams: { ...SMALL, epochs: 1 },
    });
    ada.close();
    assert.ok(started.ok, JSON.stringify(started));

    const api = await fetch(`${hub.url}/api/runs`);
    assert.equal(api.status, 200);
    assert.match(api.headers.get('content-type') ?? '', /application\/json/);
    const body = (await api.json()) as {
      ok: boolean;
      data: { runs: Array<{ id: string; name: string; status: string; createdBy: string }> };
    };
    assert.equal(body.ok, true);
    assert.deepEqual(
      body.data.runs.map((r) => [r.id, r.name, r.status, r.createdBy]),
      [[started.data.run.id, 'api through the hub', 'queued', 'Ada']],
      "the hub's own runs",
    );

    // An /api path nobody serves is the hub's JSON 404, not the dashboard's page.
    for (const path of ['/api/no-such-endpoint', '/api']) {
      const unknown = await fetch(`${hub.url}${path}`);
      assert.equal(unknown.status, 404, path);
      assert.match(unknown.headers.get('content-type') ?? '', /application\/json/, path);
      const failure = (await unknown.json()) as { ok: boolean; error: string };
      assert.deepEqual([failure.ok, failure.error], [false, 'NOT_FOUND'], path);
    }

    const missing = await fetch(`${hub.url}/no-such-page`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await missing.text(), /404/);
    const page = await fetch(`${hub.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<h1 class="sr-only">Livetrain runs<\/h1>/);
  });
});
