/**
 * `npm run daemon`: the trainer daemon speaking JSON lines on stdio, one message per line.
 *
 * In (stdin):  {"kind":"job","job":{runId, hyperparams, resume?}}
 *              {"kind":"control","runId":..,"action":"pause"|"resume"|"stop"|"set-lr","learningRate"?}
 *              {"kind":"shutdown"}
 * Out (stdout): the daemon's {@link DaemonMessage}s, `ready` first.
 *
 * stdout is written through an asynchronous stream: a reader that falls behind makes events
 * queue up in batches, never blocks training (Node writes pipes synchronously otherwise).
 * stderr gets one line about the backend (`--verbose`: why each better one was not used, in
 * full).
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { z } from 'zod';
import {
  BACKEND_RULE,
  concurrencyFlag,
  describeFlagIssues,
  readFlags,
  usageText,
  UsageError,
} from '../cliFlags';
import { backendChoiceSchema } from './config';
import { chooseBackend, describeBackendChoice } from './backend';
import { createDaemon, type DaemonMessage } from './daemon';
import { loadMnist, resolveDataDir, type MnistData } from './data/mnist';
import { runMain } from './runMain';

const USAGE = `usage: npm run daemon -- [--backend ${backendChoiceSchema.options.join('|')}] [--data-dir DIR]
                          [--checkpoint-dir DIR] [--concurrency N] [--verbose]
  takes jobs and control messages as JSON lines on stdin, writes events as JSON lines on stdout
  --concurrency    runs trained at once (default 1)
  --verbose        say in full why each better backend was not used (Dawn's messages too)`;

const inputSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('job'), job: z.unknown() }),
  z.object({ kind: z.literal('control') }).passthrough(),
  z.object({ kind: z.literal('shutdown') }),
]);

/** Writes messages as JSON lines; resolves when the stream has taken each write. */
function createLineWriter(stream: NodeJS.WritableStream) {
  return {
    send(message: DaemonMessage): Promise<void> {
      return new Promise((resolve) => {
        stream.write(`${JSON.stringify(message)}\n`, () => resolve());
      });
    },
  };
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = readFlags({
      options: {
        backend: { type: 'string', default: 'auto' },
        'data-dir': { type: 'string' },
        'checkpoint-dir': { type: 'string', default: path.join('.livetrain', 'checkpoints') },
        concurrency: { type: 'string', default: '1' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(usageText(error.message, 'npm run daemon'));
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const flags = z
    .object({ backend: backendChoiceSchema, concurrency: concurrencyFlag.schema })
    .safeParse(values);
  if (!flags.success) {
    const words = {
      backend: { label: '--backend', rule: BACKEND_RULE },
      concurrency: concurrencyFlag.words,
    };
    process.stderr.write(
      usageText(describeFlagIssues(flags.error, words, values), 'npm run daemon'),
    );
    return 2;
  }
  const { backend: backendChoice, concurrency } = flags.data;
  const out = createLineWriter(createWriteStream('', { fd: 1 }));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const chosen = await chooseBackend(backendChoice, values.verbose ? { log } : {});
  const backend = chosen.backend;
  log(`backend: ${describeBackendChoice(chosen)}`);
  let data: Promise<MnistData> | null = null;
  const dataDir = resolveDataDir(values['data-dir']);
  const daemon = createDaemon({
    backend,
    concurrency,
    checkpointRoot: values['checkpoint-dir'] ?? null,
    loadData: () => (data ??= loadMnist({ dataDir })),
    output: out,
  });
  await out.send({ kind: 'ready', backend, concurrency });

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let parsed;
    try {
      parsed = inputSchema.parse(JSON.parse(line));
    } catch {
      await out.send({
        kind: 'rejected',
        error: 'INVALID',
        message: 'expected one JSON message per line: job, control or shutdown',
      });
      continue;
    }
    if (parsed.kind === 'job') daemon.submit(parsed.job);
    else if (parsed.kind === 'control') daemon.control(parsed);
    else break;
  }
  // stdin closed or shutdown: stop what runs (each checkpoints), then exit.
  await daemon.shutdown();
  return 0;
}

runMain(main);
