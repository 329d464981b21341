/**
 * What a web page the hub's owner visits cannot make a hub on loopback do, without any token:
 * cross-site requests that change something and cross-site WebSockets are refused, a
 * DNS-rebinding page (a foreign Host) gets nothing, the same requests from the hub's own
 * pages and from scripts (no Origin) work; every response carries the security headers; the
 * dashboard runs under its Content-Security-Policy in Chromium with no violation.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { io, Manager } from 'socket.io-client';
import { PROTOCOL_VERSION, TRAINER_NAMESPACE } from '../server/protocol';
import { PRE_AUTH_MESSAGE_BYTES } from '../server/hub/peers/messageLimits';
import { createProxyTrust } from '../server/hub/peers/proxies';
import { ConfigError, readConfig } from '../server/config';
import { launchChromium, startHubProcess } from './helpers/browser';
import {
  connectBrowser,
  eventually,
  fakeTrainer,
  handshakeOutcome,
  startHub,
  trainerAuth,
  type TestHub,
} from './helpers/hub';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with exactly these headers (fetch would not let a test set Host or Origin). */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: opts.headers ?? {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const json = (a: Answer) =>
  JSON.parse(a.body) as {
    ok: boolean;
    error?: string;
    message?: string;
    data?: { run?: { id: string }; runs?: unknown[] };
  };
const START = JSON.stringify({
  name: 'from a page',
  hyperparams: { epochs: 1, trainLimit: 64, testLimit: 32 },
});

/** Whether a Socket.IO handshake with this Origin gets through ('connected') or how it fails. */
function socketWithOrigin(
  url: string,
  namespace: string,
  origin: string | null,
  auth: Record<string, unknown>,
): Promise<string> {
  return new Promise((resolve) => {
    const s = io(new URL(namespace, url).toString(), {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth,
      extraHeaders: origin ? { origin } : {},
    });
    s.once('connect', () => (s.close(), resolve('connected')));
    s.once('connect_error', (e: Error) => (s.close(), resolve(`refused: ${e.message}`)));
  });
}

describe('a hub on loopback without a token, against other sites', () => {
  let hub: TestHub;
  let host: string;
  const runCount = async () =>
    (json(await raw(hub.url, { path: '/api/runs' })).data?.runs ?? []).length;

  before(async () => {
    hub = await startHub({ publicUrls: ['https://livetrain.example.com'] });
    host = new URL(hub.url).host;
  });
  after(() => hub.close());

  test('a page on another site cannot start a run, whatever it sends', async () => {
    const attempts: Array<Record<string, string>> = [
      // What any page can send without a CORS preflight.
      { origin: 'https://evil.example', 'content-type': 'text/plain' },
      { origin: 'https://evil.example', 'content-type': 'application/json' },
      // A browser that sends no Origin says where the request came from this way.
      { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      { 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
      // Sandboxed frames and file: pages.
      { origin: 'null', 'content-type': 'application/json' },
      // Another port on this machine is another origin.
      {
        origin: `http://127.0.0.1:${Number(new URL(hub.url).port) + 1}`,
        'content-type': 'application/json',
      },
    ];
    for (const headers of attempts) {
      const answer = await raw(hub.url, {
        method: 'POST',
        path: '/api/runs',
        headers: { host, ...headers },
        body: START,
      });
      assert.equal(answer.status, 403, JSON.stringify(headers));
      assert.equal(json(answer).error, 'FORBIDDEN');
      assert.match(json(answer).message!, /other sites are refused/);
    }
    for (const path of ['/api/runs/nope/stop', '/api/runs/nope/annotations', '/login']) {
      const answer = await raw(hub.url, {
        method: 'POST',
        path,
        headers: { host, origin: 'https://evil.example', 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(answer.status, 403, path);
    }
    assert.equal(await runCount(), 0, 'no run was started');
  });

  test("the hub's own pages and scripts without an Origin still work; JSON routes want JSON", async () => {
    const own = await raw(hub.url, {
      method: 'POST',
      path: '/api/runs',
      headers: {
        host,
        origin: hub.url,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/json',
      },
      body: START,
    });
    assert.equal(own.status, 201, own.body);
    const published = await raw(hub.url, {
      method: 'POST',
      path: '/api/runs',
      headers: {
        host: 'livetrain.example.com',
        origin: 'https://livetrain.example.com',
        'content-type': 'application/json',
      },
      body: START,
    });
    assert.equal(published.status, 201, "the --public-url origin is the hub's own");
    const script = await raw(hub.url, {
      method: 'POST',
      path: '/api/runs',
      headers: { host, 'content-type': 'application/json' },
      body: START,
    });
    assert.equal(script.status, 201, 'curl and the Python client send no Origin');
    const plain = await raw(hub.url, {
      method: 'POST',
      path: '/api/runs',
      headers: { host, 'content-type': 'text/plain' },
      body: START,
    });
    assert.equal(plain.status, 400);
    assert.equal(json(plain).error, 'INVALID');
    assert.match(json(plain).message!, /Content-Type: application\/json/);
    assert.equal(await runCount(), 3);
  });

  test('a DNS-rebinding page (a Host that is not this hub) reads nothing and changes nothing', async () => {
    for (const path of ['/api/runs', '/api/health', '/']) {
      const answer = await raw(hub.url, {
        path,
        headers: { host: `rebind.evil.example:${new URL(hub.url).port}` },
      });
      assert.equal(answer.status, 403, path);
      assert.match(json(answer).message!, /does not answer to the name "rebind\.evil\.example/);
      assert.ok(!answer.body.includes('from a page'), 'no run data in the refusal');
    }
    const post = await raw(hub.url, {
      method: 'POST',
      path: '/api/runs',
      headers: {
        host: 'rebind.evil.example',
        origin: 'http://rebind.evil.example',
        'content-type': 'application/json',
      },
      body: START,
    });
    assert.equal(post.status, 403);
    const before = await runCount();
    for (const name of [host, `localhost:${new URL(hub.url).port}`, 'livetrain.example.com']) {
      assert.equal(
        (await raw(hub.url, { path: '/api/runs', headers: { host: name } })).status,
        200,
        name,
      );
    }
    assert.equal(await runCount(), before);
  });

  test("WebSockets from another site are refused on both namespaces; from the hub's pages and from scripts they connect", async () => {
    const browser = { protocolVersion: PROTOCOL_VERSION };
    const trainer = trainerAuth('t-origin');
    assert.match(await socketWithOrigin(hub.url, '/', 'https://evil.example', browser), /^refused/);
    assert.match(
      await socketWithOrigin(hub.url, TRAINER_NAMESPACE, 'https://evil.example', trainer),
      /^refused/,
      'a page cannot register as a trainer',
    );
    assert.match(await socketWithOrigin(hub.url, '/', 'null', browser), /^refused/);
    assert.equal(await socketWithOrigin(hub.url, '/', hub.url, browser), 'connected');
    assert.equal(await socketWithOrigin(hub.url, '/', null, browser), 'connected');
    assert.equal(await socketWithOrigin(hub.url, TRAINER_NAMESPACE, null, trainer), 'connected');
  });

  test('every answer carries the security headers; a malformed %-escape is a 400, not an internal error', async () => {
    for (const answer of [
      await raw(hub.url, { path: '/api/runs' }),
      await raw(hub.url, { path: '/api/nope' }),
      await raw(hub.url, { path: '/api/runs', headers: { host: 'evil.example' } }),
    ]) {
      assert.match(String(answer.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.match(String(answer.headers['content-security-policy']), /default-src 'self'/);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
      assert.equal(answer.headers['referrer-policy'], 'same-origin');
    }
    const logged = hub.logs.length;
    const bad = await raw(hub.url, { path: '/api/%ZZ' });
    assert.equal(bad.status, 400);
    assert.equal(json(bad).error, 'INVALID');
    assert.match(json(bad).message!, /malformed %-escape/);
    assert.ok(
      !hub.logs.slice(logged).some((l) => l.includes('internal error')),
      hub.logs.slice(logged).join('\n'),
    );
  });
});

test('the dashboard runs under its Content-Security-Policy: pages, live socket, charts, no violation', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  // With its local trainer: a queued run shows its place in the queue, not charts.
  const hub = await startHubProcess([]);
  t.after(() => hub.stop());
  const page = await browser.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(e.message));
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  const response = await page.goto(hub.url);
  assert.match(String(response?.headers()['content-security-policy']), /frame-ancestors 'none'/);
  await page.getByRole('button', { name: 'Start run' }).waitFor();
  // The live socket connected (the runs page lists who is online, Ada included).
  await page.getByText('Ada').first().waitFor();
  const created = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: START,
  });
  const id = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  await page.goto(`${hub.url}/runs/${id}`);
  await page.getByTestId('run-status').first().waitFor();
  await page.getByTestId('loss-chart').locator('canvas').first().waitFor();
  assert.deepEqual(violations, []);
  await browser.close();
});

describe('a hub with team and trainer tokens, against its own users and peers', () => {
  let hub: TestHub;
  let host: string;
  const TEAM = 'team-secret-1';
  const TRAINER = 'trainer-secret-1';

  before(async () => {
    hub = await startHub({ browserToken: TEAM, trainerToken: TRAINER });
    host = new URL(hub.url).host;
  });
  after(() => hub.close());

  test("a second connection claiming a connected trainer's id is refused and evicts no one; the same daemon coming back is let in", async () => {
    const instance = 'daemon-instance-secret-1';
    const first = await fakeTrainer(hub.url, trainerAuth('gpu-1', { token: TRAINER, instance }));
    assertConnected(first);
    assert.equal(
      await handshakeOutcome(hub.url, TRAINER_NAMESPACE, trainerAuth('gpu-1', { token: TRAINER })),
      'CONFLICT',
    );
    assert.equal(
      await handshakeOutcome(
        hub.url,
        TRAINER_NAMESPACE,
        trainerAuth('gpu-1', { token: TRAINER, instance: 'someone-else-entirely' }),
      ),
      'CONFLICT',
    );
    await new Promise((r) => setTimeout(r, 200));
    assertConnected(first);
    assert.equal(
      await handshakeOutcome(hub.url, TRAINER_NAMESPACE, trainerAuth('gpu-2', {})),
      'UNAUTHORIZED',
      'no trainer token, on loopback too',
    );
    // The same process over a new connection (its old one not seen dropping yet): it replaces it.
    const again = await fakeTrainer(hub.url, trainerAuth('gpu-1', { token: TRAINER, instance }));
    await eventually(() => !first.connected, 'the stale connection of the same daemon is closed');
    assertConnected(again);
    again.close();
  });

  test('before authenticating, a frame over the small limit closes the connection; an authenticated trainer may send large ones', async () => {
    // A stranger's Engine.IO connection (no namespace joined yet) sends a trainer handshake
    // (a Socket.IO CONNECT packet) with a padded token: the hub reads it and refuses it, unless
    // the frame is over the limit, which closes the connection unread.
    const stranger = async () => {
      const manager = new Manager(hub.url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        autoConnect: false,
      });
      await new Promise<void>((resolve, reject) =>
        manager.open((error) => (error ? reject(error) : resolve())),
      );
      const engine = manager.engine;
      const answers: string[] = [];
      engine.on('message', (data) => answers.push(String(data)));
      const closed = new Promise<string>((resolve) =>
        engine.once('close', (reason) => resolve(reason)),
      );
      return { engine, answers, closed };
    };
    const handshake = (bytes: number) =>
      `0${TRAINER_NAMESPACE},${JSON.stringify({ ...trainerAuth('stranger'), token: 'y'.repeat(bytes) })}`;
    const small = await stranger();
    small.engine.send(handshake(PRE_AUTH_MESSAGE_BYTES - 2048));
    await eventually(
      () => small.answers.find((a) => a.startsWith(`4${TRAINER_NAMESPACE},`)),
      'the refusal of a handshake under the limit (CONNECT_ERROR)',
    );
    assert.equal(small.engine.readyState, 'open', 'and the connection stays');
    small.engine.close();
    const big = await stranger();
    big.engine.send(handshake(PRE_AUTH_MESSAGE_BYTES + 1024));
    assert.equal(
      await Promise.race([big.closed, new Promise((r) => setTimeout(() => r('still open'), 5000))]),
      'transport close',
      'a frame over it closes the connection',
    );
    assert.deepEqual(big.answers, [], 'unread: no answer');

    // The same size from an authenticated trainer reaches the hub, which answers it.
    const trainer = await fakeTrainer(hub.url, trainerAuth('large-sender', { token: TRAINER }));
    const answer = await trainer.timeout(10_000).emitWithAck('trainer:events', {
      runId: 'no-such-run',
      events: [
        {
          runId: 'no-such-run',
          seq: 1,
          type: 'status',
          status: 'running',
          step: 0,
          time: 0,
          message: 'y'.repeat(4000),
        },
      ],
      padding: 'y'.repeat(4 * PRE_AUTH_MESSAGE_BYTES),
    });
    assert.equal(answer.ok, false);
    assert.equal(answer.error, 'NOT_FOUND', JSON.stringify(answer).slice(0, 300));
    assertConnected(trainer);
    trainer.close();
  });

  test('wrong tokens are throttled per address: past the limit even the right one waits, other addresses are not affected', async () => {
    const attacker = { host, 'x-forwarded-for': '203.0.113.9' };
    for (let i = 0; i < 10; i++) {
      const wrong = await raw(hub.url, {
        path: '/api/runs',
        headers: { ...attacker, authorization: `Bearer guess-${i}` },
      });
      assert.equal(wrong.status, 401, `guess ${i}`);
    }
    const right = await raw(hub.url, {
      path: '/api/runs',
      headers: { ...attacker, authorization: `Bearer ${TEAM}` },
    });
    assert.equal(right.status, 429, 'the address is throttled, whatever it presents');
    assert.equal(json(right).error, 'RATE_LIMITED');
    const login = await raw(hub.url, {
      method: 'POST',
      path: '/login',
      headers: { ...attacker, 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${TEAM}`,
    });
    assert.equal(login.status, 429);
    assert.match(login.body, /Too many wrong tokens/);
    assert.equal(
      await handshakeOutcome(hub.url, '/', { protocolVersion: PROTOCOL_VERSION, token: 'nope' }),
      'UNAUTHORIZED',
      'this test process is another address',
    );
    const user = await raw(hub.url, {
      path: '/api/runs',
      headers: { host, 'x-forwarded-for': '198.51.100.7', authorization: `Bearer ${TEAM}` },
    });
    assert.equal(user.status, 200, 'another address signs in as usual');
  });

  test('the sign-in cookie is Secure over HTTPS (through a proxy on this machine); signing out clears it', async () => {
    const form = { host, 'content-type': 'application/x-www-form-urlencoded' };
    const plain = await raw(hub.url, {
      method: 'POST',
      path: '/login',
      headers: form,
      body: `token=${TEAM}&next=/runs`,
    });
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.location, '/runs');
    const cookie = String(plain.headers['set-cookie']);
    assert.match(cookie, /livetrain_token=team-secret-1; HttpOnly; SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/);
    const proxied = await raw(hub.url, {
      method: 'POST',
      path: '/login',
      headers: { ...form, 'x-forwarded-proto': 'https', origin: `https://${host}` },
      body: `token=${TEAM}`,
    });
    assert.match(String(proxied.headers['set-cookie']), /; Secure/);
    const out = await raw(hub.url, {
      method: 'POST',
      path: '/logout',
      headers: { host, origin: hub.url },
    });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/login');
    assert.match(String(out.headers['set-cookie']), /livetrain_token=; .*Max-Age=0/);
    const crossSite = await raw(hub.url, {
      method: 'POST',
      path: '/logout',
      headers: { host, origin: 'https://evil.example' },
    });
    assert.equal(crossSite.status, 403, 'another site cannot sign people out either');
    // The page offers to sign out: the hello ack says a token is required.
    const ada = await connectBrowser(hub.url, null, { token: TEAM });
    const hello = await ada.call('hello', { name: 'Ada' });
    assert.ok(hello.ok && hello.data.tokenRequired === true, JSON.stringify(hello));
    ada.close();
  });
});

describe('which proxies are believed (X-Forwarded-For, X-Forwarded-Proto)', () => {
  const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({
    socket: { remoteAddress } as never,
    headers,
  });

  test('by default only a proxy on this machine; --trusted-proxy adds addresses and ranges; a chain is walked back to the client', () => {
    const plain = createProxyTrust();
    assert.equal(
      plain.clientAddress(req('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })),
      '203.0.113.9',
    );
    assert.equal(
      plain.clientAddress(req('::ffff:127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })),
      '203.0.113.9',
    );
    assert.equal(
      plain.clientAddress(req('192.0.2.7', { 'x-forwarded-for': '203.0.113.9' })),
      '192.0.2.7',
      'a remote peer cannot name someone else',
    );
    assert.equal(plain.overHttps(req('192.0.2.7', { 'x-forwarded-proto': 'https' })), false);
    assert.equal(plain.overHttps(req('127.0.0.1', { 'x-forwarded-proto': 'https' })), true);

    const team = createProxyTrust(['192.0.2.0/24', '2001:db8::1']);
    assert.equal(
      team.clientAddress(req('::ffff:192.0.2.7', { 'x-forwarded-for': '203.0.113.9' })),
      '203.0.113.9',
    );
    assert.equal(
      team.clientAddress(req('2001:db8::1', { 'x-forwarded-for': '203.0.113.9' })),
      '203.0.113.9',
    );
    assert.equal(team.overHttps(req('192.0.2.7', { 'x-forwarded-proto': 'https' })), true);
    // A client's own X-Forwarded-For is kept by proxies, in front: it proves nothing. The last
    // entry not itself a trusted proxy is who the first trusted proxy heard from.
    assert.equal(
      team.clientAddress(
        req('192.0.2.7', { 'x-forwarded-for': '10.9.9.9, 203.0.113.9, 192.0.2.8' }),
      ),
      '203.0.113.9',
    );
    assert.equal(
      team.clientAddress(req('198.51.100.1', { 'x-forwarded-for': '203.0.113.9' })),
      '198.51.100.1',
      'outside the range: not believed',
    );
  });

  test('bad --trusted-proxy entries are refused at start with a reason', () => {
    for (const [entry, why] of [
      ['nginx.internal', /not an IP address or a CIDR range/],
      ['10.0.0.0/33', /prefix length must be 0–32/],
      ['10.0.0.0/8/1', /not an IP address/],
    ] as const) {
      assert.throws(
        () => readConfig(['--trusted-proxy', entry], {}),
        (e: Error) => e instanceof ConfigError && why.test(e.message),
        entry,
      );
    }
    assert.deepEqual(
      readConfig(['--trusted-proxy', '10.0.0.0/8', '--trusted-proxy', '192.0.2.5'], {})
        .trustedProxies,
      ['10.0.0.0/8', '192.0.2.5'],
    );
    assert.deepEqual(
      readConfig([], { LIVETRAIN_TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8' }).trustedProxies,
      ['10.0.0.0/8', 'fd00::/8'],
    );
  });

  test('through the real network: a proxy on another host is believed only when trusted (Secure cookie, throttling per client)', async (t) => {
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
    if (!outside) return t.skip('this machine has no non-loopback IPv4 address to come from');
    const TEAM = 'team-secret-1';
    const hubs = await Promise.all(
      [undefined, [`${outside}/32`]].map((trustedProxies) =>
        startHub({
          browserToken: TEAM,
          trainerToken: 'trainer-secret-1',
          listenHost: '0.0.0.0',
          trustedProxies,
        }),
      ),
    );
    t.after(() => Promise.all(hubs.map((h) => h.close())));
    for (const [hub, believed] of [
      [hubs[0], false],
      [hubs[1], true],
    ] as const) {
      const port = new URL(hub.url).port;
      const at = `http://${outside}:${port}`;
      const headers = {
        host: `localhost:${port}`,
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-proto': 'https',
      };
      const signIn = await raw(at, {
        method: 'POST',
        path: '/login',
        headers: { ...headers, 'x-forwarded-for': '203.0.113.20' },
        body: `token=${TEAM}`,
      });
      assert.equal(signIn.status, 303);
      assert.equal(
        /; Secure/.test(String(signIn.headers['set-cookie'])),
        believed,
        `Secure cookie when the proxy is ${believed ? '' : 'not '}trusted`,
      );
      // Ten wrong tokens "from" one client: only a believed proxy keeps its neighbour unaffected.
      for (let i = 0; i < 10; i++)
        await raw(at, {
          path: '/api/runs',
          headers: {
            host: headers.host,
            'x-forwarded-for': '203.0.113.9',
            authorization: `Bearer wrong-${i}`,
          },
        });
      const neighbour = await raw(at, {
        path: '/api/runs',
        headers: {
          host: headers.host,
          'x-forwarded-for': '203.0.113.10',
          authorization: `Bearer ${TEAM}`,
        },
      });
      assert.equal(
        neighbour.status,
        believed ? 200 : 429,
        `another client behind the proxy, ${believed ? 'trusted' : 'untrusted'}`,
      );
    }
  });
});

function assertConnected(socket: { connected: boolean }): void {
  assert.ok(socket.connected, 'still connected');
}

test('with a team token, a person signs in on the sign-in page and out from the dashboard in Chromium', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const hub = await startHubProcess(['--no-local-trainer'], {
    env: { LIVETRAIN_TOKEN: 'team-secret-1', LIVETRAIN_TRAINER_TOKEN: 'trainer-secret-1' },
  });
  t.after(() => hub.stop());
  const page = await browser.newPage();
  await page.addInitScript(() => localStorage.setItem('livetrain.name', 'Ada'));
  await page.goto(`${hub.url}/compare`);
  assert.match(page.url(), /\/login\?next=%2Fcompare$/, 'pages wait for the token');
  await page.getByLabel('Team token').fill('wrong-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'That token is not right.' }).waitFor();
  await page.getByLabel('Team token').fill('team-secret-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${hub.url}/compare`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(hub.url);
  assert.match(page.url(), /\/login\?next=/, 'signed out: the dashboard asks for the token again');
  await browser.close();
});

test("a participant id alone proves nothing: only the hub's credential for it edits that person's notes; note budgets are the hub's, socket and HTTP together", async (t) => {
  const hub = await startHub({ annotationsPerMinute: 3 });
  t.after(() => hub.close());
  const ada = await connectBrowser(hub.url, 'Ada');
  const started = await ada.call('run:start', { hyperparams: { epochs: 1 } });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  const note = await ada.call('annotation:add', { runId, step: 1, text: "Ada's" });
  assert.ok(note.ok);
  const { participant, credential } = ada.hello!;
  assert.match(credential, /^[A-Za-z0-9_-]{16,128}$/);

  // Mallory learned Ada's id (it is in every note and presence list) and claims it.
  for (const claim of [
    { participantId: participant.id },
    { participantId: participant.id, credential: 'x'.repeat(43) },
  ]) {
    const mallory = await connectBrowser(hub.url, 'Mallory', claim);
    assert.notEqual(mallory.hello!.participant.id, participant.id, 'a new participant, not Ada');
    const edit = await mallory.call('annotation:edit', {
      id: note.data.annotation.id,
      text: 'defaced',
    });
    assert.ok(!edit.ok && edit.error === 'FORBIDDEN', JSON.stringify(edit));
    const del = await mallory.call('annotation:delete', { id: note.data.annotation.id });
    assert.ok(!del.ok && del.error === 'FORBIDDEN');
    mallory.close();
  }
  assert.equal(
    (await hub.db.prisma.annotation.findUniqueOrThrow({ where: { id: note.data.annotation.id } }))
      .text,
    "Ada's",
  );
  // Ada, back with her id and credential, is Ada.
  const back = await connectBrowser(hub.url, 'Ada', { participantId: participant.id, credential });
  assert.equal(back.hello!.participant.id, participant.id);
  assert.ok(
    (await back.call('annotation:edit', { id: note.data.annotation.id, text: "Ada's, edited" })).ok,
  );

  // Budgets: 3 adds and edits a minute per person (Ada has used 2), 9 per address, shared by socket and HTTP.
  assert.ok((await back.call('annotation:add', { runId, step: 2, text: 'third' })).ok);
  const fourth = await back.call('annotation:add', { runId, step: 3, text: 'fourth' });
  assert.ok(!fourth.ok && fourth.error === 'RATE_LIMITED', 'a person past their budget');
  let fromThisAddress = 3;
  // Fresh participants from the same place (new hellos) do not get fresh budgets beyond the address's.
  for (let i = 0; fromThisAddress < 9; i++) {
    const someone = await connectBrowser(hub.url, `Someone ${i}`);
    for (let j = 0; j < 3 && fromThisAddress < 9; j++, fromThisAddress++)
      assert.ok(
        (
          await someone.call('annotation:add', {
            runId,
            step: 10 + fromThisAddress,
            text: `n${fromThisAddress}`,
          })
        ).ok,
      );
    someone.close();
  }
  const another = await connectBrowser(hub.url, 'Another');
  const refused = await another.call('annotation:add', { runId, step: 99, text: 'one too many' });
  assert.ok(!refused.ok && refused.error === 'RATE_LIMITED', 'the address is past its budget');
  const http = await fetch(`${hub.url}/api/runs/${runId}/annotations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ step: 5, text: 'over HTTP' }),
  });
  assert.equal(http.status, 429, 'the HTTP route shares the budget');
  another.close();
  back.close();
  ada.close();
  // Ada's two notes (her edit counted too) and the six the others could add.
  assert.equal(await hub.db.prisma.annotation.count({ where: { runId, kind: 'note' } }), 8);
});

test('bounds on what one client can ask for: points per run, runs waiting, runs watched, health details without the token', async (t) => {
  const hub = await startHub({
    browserToken: 'team-secret-1',
    trainerToken: 'trainer-secret-1',
    queuedPerPerson: 40,
  });
  t.after(() => hub.close());
  const bearer = { authorization: 'Bearer team-secret-1', 'content-type': 'application/json' };
  const ada = await connectBrowser(hub.url, 'Ada', { token: 'team-secret-1' });
  t.after(() => ada.close());

  // 1,000 epochs of single-digit batches would be 60 million points.
  const huge = await ada.call('run:start', { hyperparams: { epochs: 1000, batchSize: 1 } });
  assert.ok(!huge.ok && huge.error === 'INVALID');
  assert.match(
    String((huge.details as Record<string, string>)['hyperparams.epochs']),
    /60,000,000 batch points \(1,000 epochs × 60,000 batches\); a run may record at most 2,000,000/,
  );
  const overHttp = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: bearer,
    body: JSON.stringify({ hyperparams: { epochs: 100, batchSize: 2 } }),
  });
  assert.equal(overHttp.status, 400);
  assert.ok(
    (await ada.call('run:start', { hyperparams: { epochs: 1000 } })).ok,
    '1,000 epochs at batch 32 (1,875,000 points) is allowed',
  );

  // No trainer here: every run waits. 40 may wait per person, then the next is refused.
  const bob = await connectBrowser(hub.url, 'Bob', { token: 'team-secret-1' });
  t.after(() => bob.close());
  const ids: string[] = [];
  for (let i = 0; i < 33; i++) {
    const r = await fetch(`${hub.url}/api/runs`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify({ hyperparams: { epochs: 1 } }),
    });
    ids.push(((await r.json()) as { data: { run: { id: string } } }).data.run.id);
  }
  for (const id of ids.slice(0, 32)) assert.ok((await ada.call('run:watch', { runId: id })).ok);
  const tooMany = await ada.call('run:watch', { runId: ids[32] });
  assert.ok(!tooMany.ok && tooMany.error === 'CONFLICT', JSON.stringify(tooMany));
  assert.ok((await ada.call('run:unwatch', { runId: ids[0] })).ok);
  assert.ok((await ada.call('run:watch', { runId: ids[32] })).ok, 'after an unwatch there is room');
  for (let i = 0; i < 40; i++)
    assert.ok(
      (await bob.call('run:start', { hyperparams: { epochs: 1 } })).ok,
      `Bob's run ${i + 1}`,
    );
  const waiting = await bob.call('run:start', { hyperparams: { epochs: 1 } });
  assert.ok(!waiting.ok && waiting.error === 'CONFLICT', JSON.stringify(waiting));
  assert.match(waiting.message, /you have 40 runs waiting for a trainer already \(at most 40\)/);
  assert.ok(
    (await ada.call('run:start', { hyperparams: { epochs: 1 } })).ok,
    "Ada's budget is her own",
  );
  // HTTP clients count by address: this one started the 33 above (the refused one does not count).
  for (let i = 0; i < 7; i++)
    assert.equal(
      (
        await fetch(`${hub.url}/api/runs`, {
          method: 'POST',
          headers: bearer,
          body: JSON.stringify({ hyperparams: { epochs: 1 } }),
        })
      ).status,
      201,
    );
  const overBudget = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: bearer,
    body: JSON.stringify({ hyperparams: { epochs: 1 } }),
  });
  assert.equal(overBudget.status, 409);

  // Health: anyone learns whether the hub is well, only the token's holders its details.
  const anonymous = (await (await fetch(`${hub.url}/api/health`)).json()) as {
    data: Record<string, unknown>;
  };
  assert.deepEqual(anonymous.data, { status: 'ok', protocolVersion: PROTOCOL_VERSION });
  const full = (await (await fetch(`${hub.url}/api/health`, { headers: bearer })).json()) as {
    data: Record<string, unknown>;
  };
  assert.ok('hub' in full.data && 'trainers' in full.data && full.data.status === 'ok');
});
