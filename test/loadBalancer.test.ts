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
import { after, test } from 'node:test';
import { assertSawStored, startTwoHubs } from './helpers/cluster';
import { postgresDatabases, servicesRequired } from './helpers/db';
import { connectBrowser, eventually, SMALL, startTrainer } from './helpers/hub';
import { freePort, ROOT } from './helpers/proc';
import type { RunSnapshot } from '../server/protocol';

const pgdb = postgresDatabases();
after(() => pgdb.dropAll());

/** nginx in the foreground with docs/nginx.conf, pointed at `hubs`, on a free port. */
async function startNginx(hubs: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-nginx-'));
  const port = await freePort();
  const site = (await readFile(path.join(ROOT, 'docs/nginx.conf'), 'utf8'))
    .replace(/upstream livetrain_hubs \{[^}]*\}/, `upstream livetrain_hubs {\n${hubs.map((h) => `    server ${new URL(h).host};`).join('\n')}\n}`)
    .replace('listen 80;', `listen 127.0.0.1:${port};`);
  assert.ok(site.includes(`listen 127.0.0.1:${port};`) && site.includes(new URL(hubs[1]).host), 'the documented config has the expected shape');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${dir}/${k};`).join(' ');
  const root = process.getuid?.() === 0 ? 'user root;' : '';
  await writeFile(path.join(dir, 'nginx.conf'), `${root} pid ${dir}/nginx.pid; error_log ${dir}/error.log;\nevents {}\nhttp { access_log off; ${temp}\n${site}\n}\n`);
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/api/health`).catch(() => null))?.ok, `nginx up (${output})`, 15_000);
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

test('behind a round-robin load balancer without sticky sessions, browsers and a trainer on either hub all follow the run exactly', async (t) => {
  if (spawnSync('nginx', ['-v']).status !== 0) {
    const reason = 'nginx is not installed (apt-get install nginx-light)';
    if (servicesRequired()) throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`);
    return t.skip(reason);
  }
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
  assert.ok(onA > 0 && onB > 0, `the balancer spread the browsers over both hubs (${onA} + ${onB})`);

  const res = await fetch(`${lb.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 2, trainLimit: 960 } }) });
  const runId = ((await res.json()) as { data: { run: { id: string } } }).data.run.id;
  const snapshots: RunSnapshot[] = [];
  for (const br of browsers) {
    const watched = await br.call('run:watch', { runId });
    assert.ok(watched.ok);
    snapshots.push(watched.data);
  }
  const presence = await browsers[0].waitFor('presence', (p) => p.runId === runId && p.users.length === names.length, 15_000);
  assert.deepEqual(presence.users.map((u) => u.name), names);
  await browsers[3].waitFor('run:status', (m) => m.runId === runId && m.status === 'completed', 120_000);
  for (const [i, br] of browsers.entries()) await assertSawStored(a, br, runId, snapshots[i], names[i]);
});
