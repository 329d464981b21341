/**
 * `npm run test:unit`: every `*.test.ts` in this folder, in one process. They are pure (no
 * ports, processes, browser or database), so they need no process each; starting Node and tsx
 * once instead of once per file is most of the time saved. `npm test` still runs each file in
 * its own process.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

const files = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
for (const file of files) await import(path.join(import.meta.dirname, file));
