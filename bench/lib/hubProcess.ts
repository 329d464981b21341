/**
 * bench/lib/hubProcess: a hub alone in its own process, so that a benchmark can measure its
 * CPU and memory apart from the trainer and the watchers. Forked by bench/fanout.ts:
 *
 *   node --import tsx bench/lib/hubProcess.ts --dir DIR [--sample-ms 250] [--flush-ms N]
 *                                             [--database-url postgres://…] [--redis-url redis://… --redis-prefix P]
 *
 * Opens a SQLite database in DIR (the parent owns and removes DIR), or the given database
 * (several hub processes share one PostgreSQL database and one Redis), attaches createHub to an
 * HTTP server on 127.0.0.1 and a free port, prints the URL on stdout, and over IPC sends
 * `ready {url}`, then `stats`
 * every `--sample-ms` (cumulative CPU µs, RSS, event-loop delay). On `report` it answers with
 * the upstream latency it saw (hub receive time − point.time for every point a trainer sent),
 * which separates the trainer → hub leg from the fan-out. `stop`, SIGTERM or the parent
 * going away close the hub and the database, then exit.
 */
import http from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openDatabase } from '../../server/db/client';
import { createHub, type Hub } from '../../server/hub/hub';
import { TRAINER_NAMESPACE } from '../../server/protocol';
import { Histogram } from './histogram';
import { hubCommandSchema, toParent } from './messages';

const flags = z
  .object({
    dir: z.string().min(1),
    'sample-ms': z.coerce.number().int().min(50).max(10_000),
    /** Ingest flush interval handed to createHub; the hub's default when absent. */
    'flush-ms': z.coerce.number().int().min(1).max(10_000).optional(),
    'database-url': z.string().min(1).optional(),
    'redis-url': z
      .string()
      .regex(/^rediss?:\/\//)
      .optional(),
    'redis-prefix': z.string().min(1).optional(),
  })
  .parse(
    parseArgs({
      options: {
        dir: { type: 'string' },
        'sample-ms': { type: 'string', default: '250' },
        'flush-ms': { type: 'string' },
        'database-url': { type: 'string' },
        'redis-url': { type: 'string' },
        'redis-prefix': { type: 'string' },
      },
    }).values,
  );

/** What a trainer's `trainer:events` message looks like, as far as this probe cares. */
const trainerEventsProbe = z.object({
  events: z.array(z.object({ type: z.string(), point: z.object({ time: z.number() }).optional() })),
});

/** Records upstream latency for every batch point arriving on the trainer namespace. */
function probeTrainers(
  hub: Hub,
  upstream: Histogram,
  perMessage: Histogram,
  counted: { messages: number },
): void {
  hub.io.of(TRAINER_NAMESPACE).on('connection', (socket) => {
    // onAny sees incoming events before the hub's own handler runs: arrival time.
    socket.onAny((event: string, msg: unknown) => {
      if (event !== 'trainer:events') return;
      const at = Date.now();
      const parsed = trainerEventsProbe.safeParse(msg);
      if (!parsed.success) return;
      counted.messages++;
      let points = 0;
      for (const e of parsed.data.events) {
        if (e.type !== 'metrics:batch' || !e.point) continue;
        upstream.add(at - e.point.time);
        points++;
      }
      perMessage.add(points);
    });
  });
}

function assertNever(value: never): never {
  throw new Error(`unhandled command ${JSON.stringify(value)}`);
}

async function main(): Promise<void> {
  const db = await openDatabase({
    url: flags['database-url'] ?? `file:${path.join(flags.dir, 'hub.db')}`,
  });
  let hub: Hub | null = null;
  const server = http.createServer((req, res) => {
    void hub!.handleRequest(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end('not the hub');
      },
      () => {
        if (!res.headersSent) res.writeHead(500).end();
      },
    );
  });
  hub = await createHub(server, {
    db: db.prisma,
    provider: db.provider,
    flushMs: flags['flush-ms'],
    redisUrl: flags['redis-url'],
    redisPrefix: flags['redis-prefix'],
    log: (line) => process.stderr.write(`[hub] ${line}\n`),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const upstream = new Histogram();
  const perMessage = new Histogram();
  const counted = { messages: 0 };
  probeTrainers(hub, upstream, perMessage, counted);

  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const sampler = setInterval(() => {
    const cpu = process.cpuUsage();
    toParent({
      kind: 'stats',
      t: Date.now(),
      cpuUs: cpu.user + cpu.system,
      rss: process.memoryUsage.rss(),
      // The histogram is in ns; `resolution` adds its own period to every reading.
      lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 1),
      lagMaxMs: Math.max(0, lag.max / 1e6 - 1),
    });
    lag.reset();
  }, flags['sample-ms']);

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(sampler);
      lag.disable();
      // A wedged close must not keep the benchmark waiting.
      setTimeout(() => process.exit(1), 5000).unref();
      await hub!.close();
      await db.close();
      process.exit(0);
    })());

  process.on('message', (raw) => {
    const command = hubCommandSchema.safeParse(raw);
    if (!command.success) return;
    switch (command.data.kind) {
      case 'report':
        toParent({
          kind: 'report',
          upstream: upstream.toJSON(),
          trainerMessages: counted.messages,
          pointsPerMessage: perMessage.toJSON(),
        });
        return;
      case 'stop':
        void stop();
        return;
      default:
        return assertNever(command.data);
    }
  });
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
  const url = `http://127.0.0.1:${port}`;
  // On stdout too, for running it by hand (`--cpu-prof` and the like).
  process.stdout.write(`${url}\n`);
  toParent({ kind: 'ready', url });
}

main().catch((error) => {
  process.stderr.write(`hub process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
