/**
 * The dashboard served by Next.js behind a plain HTTP server, as the hub serves it:
 * `/api/*` answered by the server's own handler, everything else by createWebHandler
 * in production mode (built first if the build is stale). Also the build staleness
 * rule and the missing-build error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildState, ensureBuild, REPO_ROOT } from '../scripts/ensure-build';
import { createWebHandler, MissingBuildError, type WebHandler } from '../server/web';

const RUNS_ENVELOPE = {
  ok: true,
  data: {
    runs: [
      {
        id: 'run-1',
        name: 'tutorial CNN',
        status: 'completed',
        createdAt: '2025-01-01T00:00:00.000Z',
        createdBy: 'ada',
        finalTestAccuracy: 98.64,
      },
    ],
  },
} as const;

/** Stands in for the hub's JSON API. */
function fakeApi(req: IncomingMessage, res: ServerResponse): void {
  const found = req.method === 'GET' && req.url === '/api/runs';
  res.statusCode = found ? 200 : 404;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(found ? RUNS_ENVELOPE : { ok: false, error: 'NOT_FOUND', message: 'No such endpoint.' }));
}

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
      if (req.url?.startsWith('/api/')) fakeApi(req, res);
      else if (web) web.handle(req, res);
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
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  test('/ is the dashboard page, and the static assets it references are served', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /<title>Livetrain<\/title>/);
    assert.match(html, /<h1 class="sr-only">Livetrain runs<\/h1>/);

    const assets = [...new Set(html.match(/\/_next\/static\/[^"'\s<>]+/g) ?? [])];
    assert.ok(assets.some((a) => a.endsWith('.js')), `no script in ${assets.join(', ')}`);
    assert.ok(assets.some((a) => a.endsWith('.css')), `no stylesheet in ${assets.join(', ')}`);
    for (const asset of assets) {
      const response = await fetch(`${base}${asset}`);
      assert.equal(response.status, 200, asset);
      await response.arrayBuffer();
    }
  });

  test('/api/* stays with the server, and unknown pages get Next 404', async () => {
    const api = await fetch(`${base}/api/runs`);
    assert.deepEqual(await api.json(), RUNS_ENVELOPE);
    const missing = await fetch(`${base}/no-such-page`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  test('Next does not add an upgrade listener to the server, and has no upgrade handler in production', async () => {
    const page = await fetch(`${base}/`);
    await page.arrayBuffer();
    assert.equal(server.listenerCount('upgrade'), 0);
    assert.equal(web?.handleUpgrade, undefined);
  });
});
