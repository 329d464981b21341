/**
 * `npm run trainer -- --hub URL [--token T]`: a trainer daemon that registers with a hub,
 * takes jobs from it and streams every event back. Run one per GPU box; `npm start` runs one
 * locally by itself.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  BACKEND_RULE,
  concurrencyFlag,
  describeFlagIssues,
  readFlags,
  usageText,
  UsageError,
} from '../cliFlags';
import { chooseBackend, describeBackendChoice } from '../trainer/backend';
import { backendChoiceSchema } from '../trainer/config';
import { loadMnist, resolveDataDir, type MnistData } from '../trainer/data/mnist';
import { connectToHub } from './hubLink';
import { runMain } from '../trainer/runMain';

const USAGE = `usage: npm run trainer -- [--hub URL] [--token TOKEN] [--backend ${backendChoiceSchema.options.join('|')}]
                           [--concurrency N] [--data-dir DIR] [--checkpoint-dir DIR] [--id NAME] [--verbose]
  --hub            hub address (default http://127.0.0.1:3000, or LIVETRAIN_HUB)
  --token          trainer token (default LIVETRAIN_TRAINER_TOKEN)
  --concurrency    runs trained at once by this daemon (default 1)
  --id             trainer id shown in the dashboard (default host-pid)
  --verbose        say in full why each better backend was not used (Dawn's messages too)`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = readFlags({
      options: {
        hub: { type: 'string', default: process.env.LIVETRAIN_HUB ?? 'http://127.0.0.1:3000' },
        token: { type: 'string', default: process.env.LIVETRAIN_TRAINER_TOKEN },
        backend: { type: 'string', default: 'auto' },
        concurrency: { type: 'string', default: '1' },
        'data-dir': { type: 'string' },
        'checkpoint-dir': { type: 'string', default: path.join('.livetrain', 'checkpoints') },
        id: { type: 'string', default: `${os.hostname()}-${process.pid}` },
        'allow-software-webgpu': { type: 'boolean', default: false },
        'exit-on-stdin-close': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(usageText(error.message, 'npm run trainer'));
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const flags = z
    .object({
      hub: z.string().url('--hub must be a URL like http://host:3000'),
      backend: backendChoiceSchema,
      concurrency: concurrencyFlag.schema,
      id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, '--id: letters, digits, _ . - only'),
    })
    .safeParse(values);
  if (!flags.success) {
    const words = {
      hub: { label: '--hub', rule: 'a URL like http://host:3000' },
      backend: { label: '--backend', rule: BACKEND_RULE },
      concurrency: concurrencyFlag.words,
      id: { label: '--id', rule: 'letters, digits, _ . - only, at most 128' },
    };
    process.stderr.write(
      usageText(describeFlagIssues(flags.error, words, values), 'npm run trainer'),
    );
    return 2;
  }
  const log = (line: string) => process.stderr.write(`[trainer ${flags.data.id}] ${line}\n`);
  const chosen = await chooseBackend(flags.data.backend, {
    allowSoftwareWebGpu: values['allow-software-webgpu'],
    ...(values.verbose ? { log } : {}),
  });
  const backend = chosen.backend;
  log(`backend: ${describeBackendChoice(chosen)}`);
  const dataDir = resolveDataDir(values['data-dir']);
  let data: Promise<MnistData> | null = null;
  const link = connectToHub({
    hubUrl: flags.data.hub,
    token: values.token,
    trainerId: flags.data.id,
    backend,
    concurrency: flags.data.concurrency,
    checkpointRoot: values['checkpoint-dir'] ?? null,
    loadData: () => (data ??= loadMnist({ dataDir })),
    log,
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // A daemon started by `npm start` goes when the hub that started it goes.
    if (values['exit-on-stdin-close']) process.stdin.on('end', stop).on('close', stop).resume();
  });
  log('stopping: runs checkpoint, buffered events go to the hub');
  await link.close();
  return 0;
}

runMain(main);
