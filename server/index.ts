/**
 * `npm start`: one HTTP server on one port for the dashboard (Next.js), the JSON API and
 * Socket.IO; database migrations applied at start; a local trainer daemon unless
 * `--no-local-trainer`. See USAGE in config.ts.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from './db/client';
import { usageText } from './cliFlags';
import { ConfigError, readConfig, USAGE } from './config';
import { createHub, type Hub } from './hub/hub';
import { startLocalTrainer, type LocalTrainer } from './localTrainer';
import { describePortInUse, portFree } from './portInUse';
import { createWebHandler, isNextUpgrade } from './web';
import { runMain } from './trainer/runMain';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string) => process.stderr.write(`[livetrain] ${line}\n`);

async function main(): Promise<number> {
  // A server keeps serving through one failed background promise (a Redis publish while Redis
  // restarts, say); it says so in its log.
  process.on('unhandledRejection', (reason) =>
    log(
      `unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    ),
  );
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = readConfig(argv, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(usageText(error.message, 'npm start'));
    return 2;
  }
  // Before the database and the dashboard's build: a second `npm start` on a taken port says
  // so at once, and who holds it.
  if (!(await portFree(config.host, config.port))) {
    process.stderr.write(
      `${(await describePortInUse(config.host, config.port)).replace(/^/gm, 'error: ')}\n`,
    );
    return 1;
  }
  const db = await openDatabase({ url: config.databaseUrl });
  log(
    `database: ${db.provider} (${db.provider === 'sqlite' ? db.url : db.url.replace(/\/\/[^@]*@/, '//…@')}), migrations applied`,
  );

  const web = config.web
    ? await createWebHandler({
        dev: config.dev,
        dir: ROOT,
        hostname: config.host,
        port: config.port,
      })
    : null;
  let hub: Hub | null = null;
  const server = http.createServer((req, res) => {
    void (async () => {
      if (hub && (await hub.handleRequest(req, res))) return;
      if (web) return web.handle(req, res);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ok: false,
          error: 'NOT_FOUND',
          message: 'this hub serves no dashboard (--no-web)',
        }),
      );
    })().catch((error) => {
      log(`request ${req.url}: ${error instanceof Error ? error.stack : error}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  hub = await createHub(server, {
    db: db.prisma,
    provider: db.provider,
    graceMs: config.graceMs,
    browserToken: config.browserToken,
    trainerToken: config.trainerToken,
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    publicUrls: config.publicUrls,
    trustedProxies: config.trustedProxies,
    dev: config.dev,
    log: (line) => process.stderr.write(`[hub] ${line}\n`),
  });
  // Socket.IO answers its own upgrades; Next's dev server (HMR) takes /_next/ ones; any other
  // upgrade is refused rather than left hanging.
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.startsWith('/socket.io/')) return;
    if (web?.handleUpgrade && isNextUpgrade(req)) web.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  const listening = await new Promise<true | NodeJS.ErrnoException>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen(config.port, config.host, () => resolve(true));
  });
  if (listening !== true) {
    // Taken while the database and the dashboard were being prepared.
    const message =
      listening.code === 'EADDRINUSE'
        ? await describePortInUse(config.host, config.port)
        : listening.message;
    process.stderr.write(`${message.replace(/^/gm, 'error: ')}\n`);
    await hub.close();
    await web?.close();
    await db.close();
    return 1;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shown = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${shown}:${port}`;
  log(`listening on ${url}${config.browserToken ? ' (team token required)' : ''}`);

  let trainer: LocalTrainer | null = null;
  if (config.localTrainer) {
    const local = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : shown;
    trainer = startLocalTrainer({
      hubUrl: `http://${local}:${port}`,
      token: config.localTrainerToken,
      backend: config.trainerBackend,
      log,
      extraArgs: config.verbose ? ['--verbose'] : [],
    });
  }

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  log('shutting down: the local trainer checkpoints its runs, queued metrics are stored');
  await trainer?.stop();
  await hub.close();
  await web?.close();
  await db.close();
  return 0;
}

runMain(main);
