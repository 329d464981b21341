/**
 * `npm start` as a process: the hub, the dashboard and a local trainer on one port, with
 * migrations applied to a fresh SQLite file; a run started over HTTP is trained by the local
 * trainer; SIGTERM shuts everything down cleanly.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { connectBrowser, eventually, SMALL } from './helpers/hub';
import { assertQuietBackendChoice, assertVerboseBackendChoice } from './helpers/backendReport';
import { startHubProcess } from './helpers/hubProcess';
import { runEntry } from './helpers/proc';

test('the hub process serves the dashboard, the API and Socket.IO on one port and runs a local trainer', async (t) => {
  const hub = await startHubProcess();
  t.after(() => hub.stop());
  const { url } = hub;
  const log = hub.output();
  assert.match(log, /database: sqlite .*migrations applied/);
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Livetrain/);
  const health = (await (await fetch(`${url}/api/health`)).json()) as {
    data: { trainers: number };
  };
  assert.equal(typeof health.data.trainers, 'number');
  assert.equal(health.data.trainers, 1, 'the local trainer registered');

  // Socket.IO answers on the same port.
  const ada = await connectBrowser(url, 'Ada');
  ada.close();

  const created = await fetch(`${url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 1 } }),
  });
  assert.equal(created.status, 201);
  const { data } = (await created.json()) as { data: { run: { id: string } } };
  const done = await eventually(
    async () => {
      const r = (await (await fetch(`${url}/api/runs/${data.run.id}`)).json()) as {
        data: { run: { status: string; backend: string; finalTestAccuracy: number | null } };
      };
      return r.data.run.status === 'completed' ? r.data.run : undefined;
    },
    'run completed by the local trainer',
    60_000,
  );
  assert.equal(done.backend, 'wasm');
  assert.ok(done.finalTestAccuracy !== null);

  hub.child.kill('SIGTERM');
  assert.equal(await hub.exited, 0, hub.output());
  assert.match(hub.output(), /shutting down/);
});

test("the hub's local trainer says one line about its backend, and the whole search with --verbose", async (t) => {
  for (const verbose of [false, true]) {
    // The helper asks for wasm; a later --trainer-backend wins, so the search runs.
    const hub = await startHubProcess([
      '--no-web',
      '--trainer-backend',
      'auto',
      ...(verbose ? ['--verbose'] : []),
    ]);
    t.after(() => hub.stop());
    const trainer = /^\[trainer local-\d+\] /;
    await eventually(
      () => /\[trainer local-\d+\] connected/.test(hub.output()),
      'the local trainer connected',
    );
    const output = hub.output();
    const report = verbose
      ? assertVerboseBackendChoice(output, trainer)
      : assertQuietBackendChoice(output, trainer);
    assert.match(
      output,
      new RegExp(`trainer local-\\d+ connected: ${report.name} on `),
      'the hub sees the backend the line names',
    );
    await hub.stop();
  }
});

test('the hub refuses to start on a public address without a token, saying where help is', async () => {
  const result = await runEntry(
    'server/index.ts',
    ['--host', '0.0.0.0', '--no-local-trainer', '--no-web'],
    { LIVETRAIN_TOKEN: '' },
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr, /refusing to listen on 0\.0\.0\.0 without LIVETRAIN_TOKEN/);
  assert.match(result.stderr, /\nsee npm start -- --help\n$/);
});

test('a second npm start on a taken port says the port is in use, that a hub answers there, and how to pick another', async (t) => {
  const first = await startHubProcess(['--no-web', '--no-local-trainer']);
  t.after(() => first.stop());
  const port = Number(new URL(first.url).port);
  const second = await runEntry(
    'server/index.ts',
    ['--port', String(port), '--no-web', '--no-local-trainer'],
    {
      DATABASE_URL: first.databaseUrl,
      LIVETRAIN_TOKEN: '',
      LIVETRAIN_TRAINER_TOKEN: '',
      REDIS_URL: '',
    },
  );
  assert.equal(second.code, 1, second.stderr);
  assert.doesNotMatch(second.stderr, /EADDRINUSE/);
  assert.match(
    second.stderr,
    new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use$`, 'm'),
  );
  assert.match(
    second.stderr,
    new RegExp(
      `^error: a Livetrain hub is already running there: open http://127\\.0\\.0\\.1:${port} `,
      'm',
    ),
  );
  assert.match(
    second.stderr,
    new RegExp(
      `^error: to start a second hub, pick another port: npm start -- --port ${port + 1}$`,
      'm',
    ),
  );
  // The first hub is untouched.
  assert.equal((await fetch(`${first.url}/api/health`)).status, 200);
});

test('npm start on a port another program holds says so, without claiming a hub is there', async (t) => {
  const other = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.after(() => void other.close());
  const port = (other.address() as { port: number }).port;
  const r = await runEntry(
    'server/index.ts',
    ['--port', String(port), '--no-web', '--no-local-trainer'],
    { DATABASE_URL: 'file:/nonexistent-dir/never-opened.db', LIVETRAIN_TOKEN: '', REDIS_URL: '' },
  );
  assert.equal(r.code, 1, `exit ${r.code}; stderr: ${r.stderr}; stdout: ${r.stdout}`);
  assert.match(
    r.stderr,
    new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use$`, 'm'),
  );
  assert.doesNotMatch(r.stderr, /Livetrain hub is already running/);
  assert.match(r.stderr, /--port /);
});
