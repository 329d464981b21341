/**
 * The hub process's settings: flags over environment over embedded defaults, validated once.
 * Binding beyond loopback without a team token is refused.
 */
import { z } from 'zod';
import {
  BACKEND_RULE,
  describeFlagIssues,
  readFlags,
  UsageError,
  type FlagWords,
} from './cliFlags';
import { proxyEntryProblem } from './hub/peers/proxies';
import { backendChoiceSchema } from './trainer/config';

export const USAGE = `usage: npm start -- [--port N] [--host ADDR] [--database-url URL] [--no-local-trainer] [--dev] [--no-web] [--verbose]
  --port              HTTP port for the dashboard, API and Socket.IO (default 3000, or PORT)
  --host              address to bind (default 127.0.0.1, or HOST); anything else needs LIVETRAIN_TOKEN
  --database-url      file:path.db (SQLite, default file:.livetrain/livetrain.db) or postgres://… (or DATABASE_URL)
  --no-local-trainer  do not start a trainer daemon here (use npm run trainer -- --hub URL elsewhere)
  --trainer-backend   backend of the local trainer (default auto)
  --verbose           the local trainer says in full why each better backend was not used (Dawn's messages too)
  --grace-ms          how long a disconnected trainer may take to come back (default 15000)
  --dev               serve the dashboard with Next's dev server (hot reload)
  --no-web            API and Socket.IO only, no dashboard
  --redis-url         redis://host:6379: share rooms and live streams with other hubs on the same database (or REDIS_URL)
  --redis-prefix      prefix of this deployment's Redis keys and channels (default livetrain, or LIVETRAIN_REDIS_PREFIX)
  --public-url        an address people reach the hub by, e.g. https://livetrain.example.com (repeatable, or
                      LIVETRAIN_PUBLIC_URL, comma-separated); requests naming any other host are refused
  --trusted-proxy     address or CIDR range of a proxy on another host (repeatable, or LIVETRAIN_TRUSTED_PROXIES,
                      comma-separated) whose X-Forwarded-For/-Proto are believed; one on this machine always is
  -h, --help          show this help
environment: LIVETRAIN_TOKEN (team token for browsers and API clients), LIVETRAIN_TRAINER_TOKEN (for trainers)`;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const schema = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  databaseUrl: z.string().min(1),
  localTrainer: z.boolean(),
  trainerBackend: backendChoiceSchema,
  verbose: z.boolean(),
  graceMs: z.coerce.number().int().min(100).max(3_600_000),
  dev: z.boolean(),
  web: z.boolean(),
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .nullable(),
  redisPrefix: z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits, _ . - only (at most 64)'),
  browserToken: z.string().min(8, 'LIVETRAIN_TOKEN must have at least 8 characters').nullable(),
  trainerToken: z
    .string()
    .min(8, 'LIVETRAIN_TRAINER_TOKEN must have at least 8 characters')
    .nullable(),
  publicUrls: z.array(
    z
      .string()
      .refine(
        (u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol),
        'must be an http:// or https:// URL, e.g. https://livetrain.example.com',
      )
      .refine(
        (u) => !URL.canParse(u) || new URL(u).pathname === '/',
        "must be the hub's root, without a path",
      ),
  ),
  trustedProxies: z.array(
    z.string().superRefine((entry, ctx) => {
      const problem = proxyEntryProblem(entry);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
});
export type HubConfig = z.infer<typeof schema> & {
  loopback: boolean;
  localTrainerToken: string | null;
};

export class ConfigError extends Error {}

/** How each setting is named in an error, and what it allows. */
const WORDS: Record<string, FlagWords> = {
  port: { label: '--port (or PORT)', rule: 'a port number from 0 to 65535' },
  host: { label: '--host (or HOST)', rule: 'an address to bind, e.g. 127.0.0.1' },
  databaseUrl: { label: '--database-url (or DATABASE_URL)', rule: 'file:path.db or postgres://…' },
  trainerBackend: { label: '--trainer-backend', rule: BACKEND_RULE },
  graceMs: {
    label: '--grace-ms (or LIVETRAIN_GRACE_MS)',
    rule: 'a whole number of milliseconds from 100 to 3,600,000',
  },
  redisUrl: { label: '--redis-url (or REDIS_URL)' },
  redisPrefix: { label: '--redis-prefix (or LIVETRAIN_REDIS_PREFIX)' },
  browserToken: { label: 'LIVETRAIN_TOKEN', rule: 'a secret of at least 8 characters' },
  trainerToken: { label: 'LIVETRAIN_TRAINER_TOKEN', rule: 'a secret of at least 8 characters' },
  publicUrls: { label: '--public-url (or LIVETRAIN_PUBLIC_URL)' },
  trustedProxies: { label: '--trusted-proxy (or LIVETRAIN_TRUSTED_PROXIES)' },
};

/** A comma-separated environment list. */
const list = (value: string | undefined) =>
  value
    ? value
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
    : [];

/** Reads flags and environment; throws ConfigError with a readable message. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): HubConfig {
  let values;
  try {
    ({ values } = readFlags({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'database-url': { type: 'string' },
        'no-local-trainer': { type: 'boolean', default: false },
        'trainer-backend': { type: 'string', default: 'auto' },
        verbose: { type: 'boolean', default: false },
        'grace-ms': { type: 'string' },
        dev: { type: 'boolean', default: false },
        'no-web': { type: 'boolean', default: false },
        'redis-url': { type: 'string' },
        'redis-prefix': { type: 'string' },
        'public-url': { type: 'string', multiple: true },
        'trusted-proxy': { type: 'string', multiple: true },
      },
    }));
  } catch (error) {
    throw new ConfigError(error instanceof UsageError ? error.message : String(error));
  }
  const input = {
    port: values.port ?? env.PORT ?? 3000,
    host: values.host ?? env.HOST ?? '127.0.0.1',
    databaseUrl: values['database-url'] ?? env.DATABASE_URL ?? 'file:.livetrain/livetrain.db',
    localTrainer: !values['no-local-trainer'],
    trainerBackend: values['trainer-backend'],
    verbose: values.verbose,
    graceMs: values['grace-ms'] ?? env.LIVETRAIN_GRACE_MS ?? 15_000,
    dev: values.dev,
    web: !values['no-web'],
    redisUrl: values['redis-url'] ?? (env.REDIS_URL || null),
    redisPrefix: values['redis-prefix'] ?? env.LIVETRAIN_REDIS_PREFIX ?? 'livetrain',
    browserToken: env.LIVETRAIN_TOKEN || null,
    trainerToken: env.LIVETRAIN_TRAINER_TOKEN || null,
    publicUrls: values['public-url'] ?? list(env.LIVETRAIN_PUBLIC_URL),
    trustedProxies: values['trusted-proxy'] ?? list(env.LIVETRAIN_TRUSTED_PROXIES),
  };
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // Tokens are secrets: their problem is named, their value is not echoed.
    const shown = { ...input, browserToken: undefined, trainerToken: undefined };
    throw new ConfigError(describeFlagIssues(parsed.error, WORDS, shown));
  }
  const config = parsed.data;
  // A hub bound to one address is reached by it; one bound to every interface is told how.
  if (!LOOPBACK.has(config.host) && config.host !== '0.0.0.0' && config.host !== '::') {
    config.publicUrls.push(
      `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`,
    );
  }
  const loopback = LOOPBACK.has(config.host);
  if (!loopback && !config.browserToken) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without LIVETRAIN_TOKEN: anyone who can reach it could start and stop runs. Set LIVETRAIN_TOKEN (and LIVETRAIN_TRAINER_TOKEN for remote trainers), or bind 127.0.0.1.`,
    );
  }
  // One token without the other would leave a door open: with a team token, anyone on this
  // machine could still register as a trainer (and take jobs) without one.
  if (config.browserToken && !config.trainerToken) {
    throw new ConfigError(
      'LIVETRAIN_TOKEN is set but LIVETRAIN_TRAINER_TOKEN is not: with a team token, trainers need their own token too (on every interface, loopback included). Set both, e.g. LIVETRAIN_TRAINER_TOKEN=$(openssl rand -base64 24).',
    );
  }
  if (config.trainerToken && !config.browserToken) {
    throw new ConfigError(
      'LIVETRAIN_TRAINER_TOKEN is set but LIVETRAIN_TOKEN is not: set both (people and API clients sign in with LIVETRAIN_TOKEN), or neither on 127.0.0.1.',
    );
  }
  return { ...config, loopback, localTrainerToken: config.trainerToken };
}
