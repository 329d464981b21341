/**
 * What a trainer process (`npm run train`, the daemon, the hub's local trainer) says about its
 * backend: one line, `backend: wasm (…); not tensorflow-gpu/tensorflow (not installed), …`,
 * and with `--verbose` the detail before it. Checked the same way whichever machine the tests
 * run on: the better backends that were not used are whatever they are here.
 */
import assert from 'node:assert/strict';
import { BACKENDS, type BackendName } from '../../server/trainer/config';

/** What anyone would call console noise from a backend search. */
const NOISE = /skipped:|Warning:|Couldn't load|artificially reduced|BackendVk|Cannot find package/;

export interface BackendReport {
  /** The backend line, without its prefix. */
  line: string;
  name: BackendName;
  /** The backends the line says were not used. */
  notUsed: string[];
  /** The lines (after the prefix) printed before the backend line. */
  before: string[];
}

/**
 * Finds the one backend line among the lines of `output` that start with `prefix` (e.g. the
 * hub's `[trainer local-…] `), and checks it names every backend better than the one used.
 */
export function readBackendReport(output: string, prefix: RegExp | string = ''): BackendReport {
  const start =
    typeof prefix === 'string'
      ? new RegExp(`^${prefix.replace(/[[\]().*+?^$\\|{}]/g, '\\$&')}`)
      : prefix;
  const lines = output
    .split('\n')
    .filter((l) => start.test(l))
    .map((l) => l.replace(start, ''));
  const at = lines.map((l, i) => (l.startsWith('backend: ') ? i : -1)).filter((i) => i >= 0);
  assert.equal(at.length, 1, `one backend line in:\n${output}`);
  const line = lines[at[0]].slice('backend: '.length);
  const name = /^(\S+) \(/.exec(line)?.[1] as BackendName;
  assert.ok(BACKENDS.includes(name), `a backend first: ${line}`);
  const rest = line.split('; ').slice(1).join('; ');
  const notUsed = [...(rest.match(/not ([\w/-]+) \(/g) ?? [])].flatMap((m) =>
    m.slice(4, -2).split('/'),
  );
  assert.deepEqual(
    notUsed,
    BACKENDS.slice(0, BACKENDS.indexOf(name)),
    `every better backend is named with its reason: ${line}`,
  );
  return { line, name, notUsed, before: lines.slice(0, at[0]) };
}

/** Without `--verbose`: the backend line is all that is said about the search. */
export function assertQuietBackendChoice(
  output: string,
  prefix: RegExp | string = '',
): BackendReport {
  const report = readBackendReport(output, prefix);
  assert.deepEqual(report.before, [], 'nothing before the backend line');
  assert.doesNotMatch(output, NOISE, 'no detail of the search, and nothing from Dawn');
  return report;
}

/** With `--verbose`: the full reason for each backend not used comes before the line. */
export function assertVerboseBackendChoice(
  output: string,
  prefix: RegExp | string = '',
): BackendReport {
  const report = readBackendReport(output, prefix);
  for (const name of report.notUsed) {
    assert.ok(
      report.before.some((l) => l.startsWith(`${name} skipped: `)),
      `why ${name} was not used, in full:\n${output}`,
    );
  }
  return report;
}
