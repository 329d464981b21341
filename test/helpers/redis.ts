/**
 * Redis for tests: the machine's server (LIVETRAIN_TEST_REDIS_URL, default
 * redis://127.0.0.1:6379) with a fresh key prefix per test, or a private `redis-server`
 * process on a free port that a test may kill and start again. Skipped with a visible reason
 * when unavailable, except under LIVETRAIN_REQUIRE_SERVICES=1 (CI), where that is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { servicesRequired } from './db';
import { freePort } from './proc';

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** Answers a PING within a second? */
function ping(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function unavailable(t: TestContext, reason: string): null {
  if (servicesRequired()) throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`);
  t.skip(reason);
  return null;
}

/** The machine's Redis and a prefix no other test uses, or null (skipped). */
export async function sharedRedis(t: TestContext): Promise<{ url: string; prefix: string } | null> {
  const url = process.env.LIVETRAIN_TEST_REDIS_URL || DEFAULT_URL;
  const { hostname, port } = new URL(url);
  if (!(await ping(Number(port || 6379), hostname)))
    return unavailable(t, `Redis not reachable at ${url}`);
  return { url, prefix: `lt-test-${randomBytes(4).toString('hex')}` };
}

export interface PrivateRedis {
  url: string;
  /** Kills the server (SIGKILL: everything in it is lost, as with a crash without persistence). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server of the test's own, on a free port, without persistence; or null (skipped). */
export async function privateRedis(t: TestContext): Promise<PrivateRedis | null> {
  if (spawnSync('redis-server', ['--version']).status !== 0)
    return unavailable(t, 'redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !(await ping(port)); i++)
      await new Promise((r) => setTimeout(r, 50));
    if (!(await ping(port))) throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}
