/**
 * The trainer daemon `npm start` runs next to the hub: the same program as a remote trainer
 * (`npm run trainer`), as a child process, restarted if it dies, stopped with the hub.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface LocalTrainerOptions {
  hubUrl: string;
  token: string | null;
  backend: string;
  log: (line: string) => void;
  extraArgs?: string[];
}

export interface LocalTrainer {
  /** Asks the daemon to stop (its runs checkpoint) and waits up to `timeoutMs` for it. */
  stop(timeoutMs?: number): Promise<void>;
}

export function startLocalTrainer(opts: LocalTrainerOptions): LocalTrainer {
  let child: ChildProcess | null = null;
  let stopping = false;
  const restarts: number[] = [];

  function launch(): void {
    const args = [
      '--import',
      'tsx',
      path.join(ROOT, 'server/agent/main.ts'),
      '--hub',
      opts.hubUrl,
      '--backend',
      opts.backend,
      '--id',
      `local-${process.pid}`,
      '--exit-on-stdin-close',
      ...(opts.extraArgs ?? []),
    ];
    const env = { ...process.env, LIVETRAIN_TRAINER_TOKEN: opts.token ?? '' };
    child = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    child.on('exit', (code, signal) => {
      child = null;
      if (stopping) return;
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && now - restarts[0] > 60_000) restarts.shift();
      if (restarts.length > 5) {
        opts.log(
          `local trainer exited (${signal ?? code}) 5 times in a minute; not restarting it. Start one with: npm run trainer -- --hub ${opts.hubUrl}`,
        );
        return;
      }
      opts.log(`local trainer exited (${signal ?? code}); restarting it`);
      setTimeout(launch, 1000).unref();
    });
  }
  launch();

  return {
    async stop(timeoutMs = 20_000) {
      stopping = true;
      const c = child;
      if (!c) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.stdin?.end();
      const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
