/**
 * docs/protocol.md is enough to write a trainer from: every field of every trainer event
 * (server/trainer/eventSchema.ts), of the trainer handshake, of `run:create` and of the
 * reports is named in it, in the row of its event; every browser command has a row; every link
 * in it resolves. Pure: reads the documents and the schemas.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import {
  browserSchemas,
  runsManageSchema,
  trainerHandshakeSchema,
  trainerReportSchema,
} from '../server/protocol';
import {
  backendInfoSchema,
  batchPointSchema,
  digitPredictionSchema,
  epochSummarySchema,
  trainerEventSchema,
} from '../server/trainer/eventSchema';
import { hyperparamsSchema } from '../server/trainer/config';

const doc = readFileSync(path.join(import.meta.dirname, '..', 'docs', 'protocol.md'), 'utf8');

/** The text of a markdown section, from its heading to the next one of its level or above. */
function section(heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `docs/protocol.md has a "${heading}" section`);
  const rest = doc.slice(start + heading.length + 2);
  const level = heading.indexOf(' ');
  const next = rest.search(new RegExp(`\\n#{1,${level}} `));
  return next < 0 ? rest : rest.slice(0, next);
}

/** The table row with a cell that is `name` (in backticks): the event's row. */
function row(text: string, name: string): string {
  const line = text.split('\n').find((l) => l.startsWith('|') && l.includes(`| \`${name}\` |`));
  assert.ok(line, `a row for ${name}`);
  return line;
}

/** The keys of an object schema (unwrapping optional, nullable and default). */
function keys(schema: z.ZodType): string[] {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
    if (def.innerType && def.type !== 'object') s = def.innerType;
    else break;
  }
  assert.ok(s instanceof z.ZodObject, 'an object schema');
  return Object.keys(s.shape);
}

const named = (text: string, key: string) =>
  new RegExp(`(^|[^A-Za-z0-9])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^A-Za-z0-9]`).test(
    text,
  );

test('every trainer event kind has a row naming each of its fields, nested ones included', () => {
  const events = section('### Trainer events');
  assert.match(events, /`runId` and `seq`/);
  const nested: Record<string, z.ZodType> = {
    point: batchPointSchema,
    summary: epochSummarySchema,
    backend: backendInfoSchema,
    items: digitPredictionSchema,
  };
  const kinds = trainerEventSchema.options.map((o) => o.shape.type.value);
  for (const option of trainerEventSchema.options) {
    const type = option.shape.type.value;
    const line = row(events, type);
    for (const key of keys(option)) {
      if (key === 'runId' || key === 'seq' || key === 'type') continue;
      assert.ok(named(line, key), `${type}: field \`${key}\` is documented`);
      if (nested[key])
        for (const inner of keys(nested[key]))
          assert.ok(named(line, inner), `${type}: field \`${key}.${inner}\` is documented`);
    }
  }
  // No row for a kind the schema does not have.
  const rows = [...events.matchAll(/^\| `([a-z:]+)` \|/gm)]
    .map((m) => m[1])
    .filter((first) => first !== 'type');
  assert.deepEqual(rows.sort(), [...kinds].sort());
  // `run:started` carries the hyperparameters: the document says where they are listed.
  assert.ok(
    keys(hyperparamsSchema).every((k) => named(doc, k)),
    'every hyperparameter is named',
  );
});

test('the trainer handshake, run:create and the reports are documented field by field', () => {
  const trainers = section('## Trainer ↔ hub (`/trainer`)');
  for (const key of keys(trainerHandshakeSchema))
    assert.ok(named(trainers, key), `handshake field \`${key}\``);
  const create = row(trainers, 'run:create');
  for (const key of ['runId', 'host', 'name', 'hyperparams', 'reporting'])
    assert.ok(named(create, key), `run:create field \`${key}\``);
  for (const option of trainerReportSchema.options) {
    const line = row(trainers, option.shape.kind.value);
    for (const key of keys(option))
      if (key !== 'kind')
        assert.ok(named(line, key), `report ${option.shape.kind.value}: \`${key}\``);
  }
});

test('the /trainer acks are documented as envelopes', () => {
  const trainers = section('## Trainer ↔ hub (`/trainer`)');
  assert.match(row(trainers, 'job:assign'), /\{ ok: true, data: \{ runId \} \}/);
  assert.match(row(trainers, 'trainer:events'), /\{ ok: true, data: \{ storedSeq \} \}/);
  assert.match(row(trainers, 'checkpoint:upload'), /\{ ok: true, data: \{ id \} \}/);
  assert.match(row(trainers, 'run:create'), /\{ ok: true, data: \{ runId \} \}/);
  assert.doesNotMatch(trainers, /\| `\{ runId \}` or an error/);
});

test('every browser command has a row, and every runs:manage action is described', () => {
  const browser = section('## Browser → hub (default namespace)');
  const commands = new Set(
    [...browser.matchAll(/^\| (`[a-z:-]+`(?: \/ `[a-z:-]+`)*) \|/gm)].flatMap((m) =>
      [...m[1].matchAll(/`([a-z:-]+)`/g)].map((c) => c[1]),
    ),
  );
  for (const command of Object.keys(browserSchemas))
    assert.ok(commands.has(command), `a row for browser command \`${command}\``);
  const manage = section('### Several runs at once');
  for (const option of runsManageSchema.shape.action.options)
    assert.ok(
      manage.includes(`kind: "${option.shape.kind.value}"`),
      `runs:manage action \`${option.shape.kind.value}\``,
    );
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

test('every link in docs/protocol.md resolves to a file and, with a #fragment, to a heading there', () => {
  const dir = path.join(import.meta.dirname, '..', 'docs');
  const links = [...doc.replace(/```[\s\S]*?```/g, '').matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((l) => !/^[a-z]+:/.test(l));
  assert.ok(links.length > 0, 'the document has links');
  for (const link of links) {
    const [file, fragment] = link.split('#');
    const target = file ? path.join(dir, file) : path.join(dir, 'protocol.md');
    assert.ok(existsSync(target), `${link}: ${file} exists`);
    if (fragment !== undefined && target.endsWith('.md'))
      assert.ok(anchors(target).has(fragment), `${link}: a heading whose anchor is #${fragment}`);
  }
});
