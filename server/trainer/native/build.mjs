#!/usr/bin/env node
/**
 * Builds the optional native addon (oneDNN) with node-gyp, as part of `npm install`/`npm ci`.
 * It is optional: where it cannot build (no compiler, no libdnnl-dev), this prints one line and
 * exits 0, and the trainer uses wasm. `--required`, or LIVETRAIN_REQUIRE_SERVICES=1 (CI), makes a
 * failed build fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const required =
  process.argv.includes('--required') || process.env.LIVETRAIN_REQUIRE_SERVICES === '1';
const verbose = required || process.argv.includes('--verbose');

if (process.env.LIVETRAIN_SKIP_NATIVE === '1') {
  console.log('native addon: not built (LIVETRAIN_SKIP_NATIVE=1); the trainer will use wasm');
  process.exit(0);
}
if (
  !existsSync('/usr/include/oneapi/dnnl/dnnl.hpp') &&
  !existsSync('/usr/local/include/oneapi/dnnl/dnnl.hpp')
) {
  finish(1, 'oneDNN headers not found (apt-get install libdnnl-dev)');
}

// npm passes its own node-gyp to install scripts; otherwise the one npm ships, or PATH's.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const bundled = path.join(
  prefix,
  'lib',
  'node_modules',
  'npm',
  'node_modules',
  'node-gyp',
  'bin',
  'node-gyp.js',
);
const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
const command = gyp ? process.execPath : 'node-gyp';
const args = [...(gyp ? [gyp] : []), 'rebuild'];
// Node's own headers, where this Node was installed with them, spare node-gyp a download.
if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h')))
  args.push(`--nodedir=${prefix}`);
const result = spawnSync(command, args, {
  cwd: here,
  encoding: 'utf8',
  stdio: verbose ? 'inherit' : 'pipe',
});
if (result.error) finish(1, `node-gyp could not start (${result.error.message})`);
if (result.status !== 0) {
  const lines = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n');
  const first =
    lines.find((l) => /error/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node)/.test(l)) ??
    `node-gyp exited with ${result.status}`;
  finish(1, first.trim().slice(0, 160));
}
finish(0, 'built (oneDNN)');

function finish(code, words) {
  if (code === 0) console.log(`native addon: ${words}`);
  else if (required) {
    console.error(`native addon: build failed: ${words}`);
    process.exit(1);
  } else
    console.log(
      `native addon: not built: ${words}; the trainer will use wasm (see npm run build:native)`,
    );
  process.exit(0);
}
