/**
 * Flag problems in words, for the command lines that have no hand-written parser (the hub's
 * `npm start`, `npm run trainer`, `npm run daemon`): Node's parseArgs and zod explain to a
 * developer ("Option '--port <value>' argument is ambiguous", "Too small: expected number to be
 * >=1"); these say what is allowed and what was given, one line per problem. `npm run train`
 * has its own tokenizer (cliArgs.ts) because it accepts negative numbers as values.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z, type ZodError } from 'zod';
import { backendChoiceSchema } from './trainer/config';

/** A problem with the command line (every entry point's); its message is for a person, one line per problem. */
export class UsageError extends Error {}

/** What a command prints on stderr for a usage problem: each line after "error: ", then where help is. */
export function usageText(message: string, command: string): string {
  return `${message.replace(/^/gm, 'error: ')}\nsee ${command} -- --help\n`;
}

/** What the backend flags allow, in words (the hub's --trainer-backend, the trainers' --backend). */
export const BACKEND_RULE = `one of ${backendChoiceSchema.options.join(', ')}`;

/** The trainer daemons' --concurrency (npm run trainer, npm run daemon): its schema and its words. */
export const concurrencyFlag = {
  schema: z.coerce.number().int().min(1).max(16),
  words: { label: '--concurrency', rule: 'a whole number of runs from 1 to 16' },
} as const;

/** The option a parseArgs message names (`'--port <value>'`, `'--x'`). */
function optionIn(message: string): string {
  return /'(-{1,2}[\w-]+)/.exec(message)?.[1] ?? 'an option';
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The message for an option the command does not have, with the nearest one it has when one
 * is close (a typo, a missing or extra letter, a prefix): `unknown option --epoch (did you
 * mean --epochs?)`. `known` are the option names without dashes.
 */
export function unknownOption(rawName: string, known: readonly string[]): string {
  const name = rawName.replace(/^-+/, '').toLowerCase();
  let best: { option: string; distance: number } | null = null;
  for (const option of known) {
    if (option.length < 2) continue;
    const distance = option.startsWith(name) && name.length >= 3 ? 1 : editDistance(name, option);
    if (!best || distance < best.distance) best = { option, distance };
  }
  const close = best && best.distance <= Math.max(1, Math.min(2, Math.floor(name.length / 3)));
  return close
    ? `unknown option ${rawName} (did you mean --${best!.option}?)`
    : `unknown option ${rawName}`;
}

/** Node's parseArgs, strict, with its errors said in words. */
export function readFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    const option = optionIn(message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw new UsageError(unknownOption(option, Object.keys(config.options ?? {})));
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /argument '([^']*)'/.exec(message)?.[1] ?? '';
      throw new UsageError(`unexpected argument "${arg}": every option starts with --`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/does not take an argument/.test(message))
        throw new UsageError(`${option} takes no value`);
      throw new UsageError(
        `${option} needs a value (${option} VALUE, or ${option}=VALUE for one that starts with -)`,
      );
    }
    throw new UsageError(message);
  }
}

/** How one setting is named to the person (`--port (or PORT)`) and, optionally, what it allows. */
export interface FlagWords {
  label: string;
  rule?: string;
}

/**
 * Each failed field as `label: what is allowed, got "value"`. A field without a rule keeps the
 * schema's own message (the schemas here give their refinements a message in words).
 */
export function describeFlagIssues(
  error: ZodError,
  words: Record<string, FlagWords>,
  input: Record<string, unknown>,
): string {
  const lines = new Set<string>();
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? '');
    const word = words[key];
    const given = input[key];
    const shown = Array.isArray(given) ? given[Number(issue.path[1])] : given;
    const got = shown === undefined || shown === null ? '' : `, got "${String(shown)}"`;
    lines.add(`${word?.label ?? key}: ${word?.rule ?? issue.message}${got}`);
  }
  return [...lines].join('\n');
}
