/**
 * `npm run train -- [flags]`: headless training (server/trainer/cli.ts), or with `--hub URL`
 * a run the CLI creates on the hub (`run:create`) and streams there through the daemon's own
 * link (hubLink.ts: outbox, replay after the hub comes back), so that everyone watches it in
 * the dashboard and can stop, pause, resume it or change its learning rate there.
 */
import os from 'node:os';
import { ZodError } from 'zod';
import type { DaemonMessage } from '../trainer/daemon';
import { chooseBackend, describeBackendChoice } from '../trainer/backend';
import { main, limitProblem, type HubMode } from '../trainer/cli';
import { describeZodError, hyperparamsSchema } from '../trainer/config';
import { loadMnist } from '../trainer/data/mnist';
import { createProgress } from '../trainer/progress';
import { runMain } from '../trainer/runMain';
import { connectToHub } from './hubLink';

/** Handshake refusals that no retry fixes: said once, and the CLI stops. */
const FATAL = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'UNSUPPORTED_VERSION', 'INVALID']);

const onHub: HubMode = async (opts) => {
  const hub = opts.hub!;
  const err = (line: string) => process.stderr.write(`${line}\n`);
  try {
    const hyperparams = hyperparamsSchema.parse(opts.hyperparams);
    const data = await loadMnist({ dataDir: opts.dataDir });
    const tooMany = limitProblem(hyperparams, data, false);
    if (tooMany) {
      err(`error: ${tooMany}`);
      return 2;
    }
    const chosen = await chooseBackend(opts.backend as never, {
      allowSoftwareWebGpu: opts.allowSoftwareGpu,
      ...(opts.verbose ? { log: err } : {}),
    });
    err(`backend: ${describeBackendChoice(chosen)}`);
    const progress = createProgress({ stream: process.stderr });
    let finished: (
      m: Extract<DaemonMessage, { kind: 'job:done' | 'job:failed' }>,
    ) => void = () => {};
    const ended = new Promise<Extract<DaemonMessage, { kind: 'job:done' | 'job:failed' }>>(
      (resolve) => (finished = resolve),
    );
    const host = os.hostname();
    const link = connectToHub({
      hubUrl: hub.url,
      token: hub.token,
      trainerId: `cli-${host.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 100)}-${process.pid}`,
      backend: chosen.backend,
      concurrency: 1,
      takesJobs: false,
      checkpointRoot: opts.checkpointDir,
      loadData: () => Promise.resolve(data),
      log: (line) => err(`[hub] ${line}`),
      observe(message) {
        if (message.kind === 'events') message.events.forEach((e) => progress.handle(e));
        else if (
          (message.kind === 'job:done' || message.kind === 'job:failed') &&
          message.runId === opts.runId
        )
          finished(message);
      },
    });
    // A refusal the hub will repeat (a wrong token, another protocol) ends the CLI.
    const refused = new Promise<string>((resolve) =>
      link.socket.on('connect_error', (error: Error & { data?: { error?: string } }) => {
        if (error.data?.error && FATAL.has(error.data.error))
          resolve(`the hub at ${hub.url} refused this trainer: ${error.message}`);
      }),
    );
    if (!link.socket.connected) err(`connecting to ${hub.url} …`);
    const created = await Promise.race([
      link.createRun({
        runId: opts.runId,
        host,
        hyperparams,
        reporting: {
          evalTrainSet: opts.evalTrainSet,
          ...(opts.stopAfterNonFinite === undefined
            ? {}
            : { stopAfterNonFinite: opts.stopAfterNonFinite }),
        },
        ...(hub.name ? { name: hub.name } : {}),
      }),
      refused.then((message) => ({ ok: false as const, error: 'UNAUTHORIZED' as const, message })),
    ]);
    if (!created.ok) {
      link.socket.disconnect();
      await link.daemon.shutdown();
      err(`error: ${created.message}`);
      return created.error === 'INVALID' ? 2 : 1;
    }
    const runUrl = new URL(`/runs/${encodeURIComponent(created.data.runId)}`, hub.url).toString();
    err(`run ${created.data.runId} is live at ${runUrl}`);
    let interrupts = 0;
    process.on('SIGINT', () => {
      if (++interrupts > 1) process.exit(130);
      err(
        '\nstopping after this batch (Ctrl-C again to quit now; the hub then marks the run interrupted)',
      );
      link.daemon.control({ runId: created.data.runId, action: 'stop' });
    });
    const end = await ended;
    const waiting = [...link.pending().values()].reduce((a, b) => a + b, 0);
    if (waiting > 0)
      err(`waiting for the hub to store ${waiting} buffered event${waiting === 1 ? '' : 's'} …`);
    await link.drained();
    link.socket.disconnect();
    if (end.kind === 'job:failed') {
      err(`error: ${end.message}`);
      return 1;
    }
    const summary = {
      runId: end.runId,
      status: end.status,
      hub: hub.url,
      url: runUrl,
      testAccuracy: end.testAccuracy,
      samplesPerSec: Math.round(end.samplesPerSec),
      checkpoint: end.checkpoint,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const accuracy =
        end.testAccuracy === null
          ? 'no test accuracy'
          : `test accuracy ${end.testAccuracy.toFixed(2)}%`;
      process.stdout.write(
        `${end.status}: ${accuracy}, ${summary.samplesPerSec.toLocaleString('en-US')} samples/s; ${runUrl}${end.checkpoint ? `; checkpoint ${end.checkpoint}` : ''}\n`,
      );
    }
    return 0;
  } catch (error) {
    const message =
      error instanceof ZodError
        ? describeZodError(error)
        : error instanceof Error
          ? error.message
          : String(error);
    err(`error: ${message}`);
    return 1;
  }
};

runMain(() => main(process.argv.slice(2), onHub));
