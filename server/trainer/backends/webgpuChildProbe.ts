/**
 * The WebGPU adapter search run in a child process, so that Dawn's own console messages stay
 * out of the trainer's output unless someone asks for them.
 *
 * Why a child process. Dawn, the native module of the `webgpu` package, writes its warnings
 * from C++ straight to file descriptor 2 while it looks for adapters, e.g. on a machine without
 * a GPU:
 *
 *     Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file …
 *         at operator() (…/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)
 *     Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 …
 *     Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 …
 *
 * The first comes from `requestAdapter()` on Dawn's default (Vulkan) path, the other two from
 * `requestAdapter()` on the OpenGL ES path (llvmpipe); none from tfjs-backend-webgpu. They do
 * not pass through `process.stderr.write` or `console.warn` (replacing both hides nothing:
 * measured), the options of `create()` are Dawn toggles with no log level, and the module reads
 * no environment variable for one (its strings name only DAWN_TRACE_FILE_BASE,
 * DAWN_TRACE_DEVICE_FILTER and DAWN_DEBUG_BREAK_ON_ERROR). Node cannot point its own fd 2
 * elsewhere for a while, but a child's stderr can be a pipe: the child searches, prints what it
 * found as one JSON line on stdout, and its stderr is kept as detail for `--verbose`. A Dawn
 * crash during the search also takes down only the child.
 *
 * The parent then starts WebGPU in its own process only when the adapter is one it will use,
 * asking Dawn only the way that found it (so a missing Vulkan is not tried, and not reported,
 * again). On a software adapter allowed by `--allow-software-gpu` the OpenGL ES path still
 * prints its two "artificially reduced" lines then: that is Dawn creating the adapter being
 * used, and cannot be hidden from here.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { probeWebGpu, type WebGpuProbe } from './webgpu';

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '..', '..', '..');
const PROBE_FLAG = '--probe-webgpu';

/** The child's one line of stdout; anything else from it is not believed. */
const probeSchema = z.object({
  ok: z.boolean(),
  device: z.string(),
  isRealGpu: z.boolean(),
  reason: z.string().optional(),
  adapterInfo: z.record(z.string(), z.string()).optional(),
  attempt: z.string().optional(),
});

/** What the child found, and what Dawn printed while it looked. */
export interface ChildProbe {
  probe: WebGpuProbe;
  /** The child's stderr: Dawn's own messages, as it wrote them (may be empty). */
  output: string;
}

const failed = (reason: string): WebGpuProbe => ({
  ok: false,
  device: 'WebGPU: none',
  isRealGpu: false,
  reason,
});

/**
 * Searches for a WebGPU adapter in a child process (see the module comment for why) and
 * returns what it found; never throws. `timeoutMs` bounds a search that hangs in a driver.
 */
export function probeWebGpuInChild(opts: { timeoutMs?: number } = {}): Promise<ChildProbe> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', HERE, PROBE_FLAG], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    const finish = (probe: WebGpuProbe) => {
      clearTimeout(timer);
      resolve({ probe, output: stderr.trim() });
    };
    child.on('error', (error) =>
      finish(failed(`could not start the WebGPU probe: ${error.message}`)),
    );
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      const probe = probeSchema.safeParse(parsed);
      if (probe.success) return finish(probe.data);
      const how =
        signal === 'SIGKILL'
          ? 'took too long and was stopped'
          : signal
            ? `was killed by ${signal}`
            : `exited with code ${code}`;
      finish(failed(`the WebGPU probe process ${how} without an answer`));
    });
  });
}

// The child: search, answer, exit (Dawn keeps no handle open; exit anyway, promptly).
if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === HERE &&
  process.argv.includes(PROBE_FLAG)
) {
  probeWebGpu({ allowSoftware: true }).then(
    (probe) => process.stdout.write(`${JSON.stringify(probe)}\n`, () => process.exit(0)),
    (error) => {
      process.stdout.write(
        `${JSON.stringify(failed(error instanceof Error ? error.message : String(error)))}\n`,
        () => process.exit(0),
      );
    },
  );
}
