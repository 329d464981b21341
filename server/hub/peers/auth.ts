/**
 * Tokens. On loopback with no token configured everything local is trusted. Otherwise
 * browsers and HTTP clients present LIVETRAIN_TOKEN (a cookie set by the sign-in page, or
 * `Authorization: Bearer`), trainers present LIVETRAIN_TRAINER_TOKEN. Wrong tokens are
 * throttled per client address: past a few a minute, that address's tokens are not even
 * looked at until the minute has passed.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError } from '../errors';
import { createRateLimiter } from '../rateLimit';
import type { ProxyTrust } from './proxies';

export const TOKEN_COOKIE = 'livetrain_token';
const COOKIE_MAX_AGE_S = 30 * 24 * 3600;

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(
  expected: string | null,
  presented: string | undefined | null,
): boolean {
  if (expected === null) return true;
  if (!presented) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const key = part.slice(0, at).trim();
    try {
      out[key] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      // A malformed cookie is ignored, not fatal.
    }
  }
  return out;
}

/** The token a request presents: bearer header first, then the sign-in cookie. */
export function presentedToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return parseCookies(req.headers.cookie)[TOKEN_COOKIE];
}

const LOGIN_PAGE = (problem: string | null, next: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Livetrain · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;background:#f6f7f9}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.75rem;min-width:18rem}
.err{color:#b00020}</style></head><body>
<form method="post" action="/login"><h1>Livetrain</h1>
<label for="token">Team token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${next.replace(/[^A-Za-z0-9/_?=&.-]/g, '')}">
${problem ? `<p class="err" role="alert">${problem}</p>` : ''}
<button type="submit">Sign in</button></form></body></html>`;

export interface AuthOptions {
  browserToken: string | null;
  trainerToken: string | null;
  /** Who may say who the client is, and that it came over HTTPS. */
  proxies: ProxyTrust;
  /** Wrong tokens an address may present a minute before it is throttled. */
  failuresPerMinute?: number;
}

export function createAuth({
  browserToken,
  trainerToken,
  proxies,
  failuresPerMinute = 10,
}: AuthOptions) {
  const { clientAddress, overHttps } = proxies;
  const failures = createRateLimiter(failuresPerMinute, 60_000);
  const throttled = (address: string) => !failures.allows(address);

  /**
   * Checks a presented token, counting a wrong one against the client's address.
   * @throws HubError RATE_LIMITED while the address is throttled, UNAUTHORIZED for a wrong or missing token
   */
  function check(
    expected: string | null,
    presented: string | undefined | null,
    req: Pick<IncomingMessage, 'headers' | 'socket'>,
    what: string,
  ): void {
    if (expected === null) return;
    const address = clientAddress(req);
    if (throttled(address))
      throw new HubError(
        'RATE_LIMITED',
        'too many wrong tokens from this address; wait a minute and try again',
      );
    if (tokenMatches(expected, presented)) return;
    if (presented) failures.take(address);
    throw new HubError('UNAUTHORIZED', what);
  }

  return {
    /** Who is asking (the address throttling and budgets count). */
    clientAddress,
    /** Whether browsers and API clients must present a token. */
    required: browserToken !== null,
    /** A browser's or API client's request (cookie or bearer); `token` from a handshake's auth. */
    browser(req: Pick<IncomingMessage, 'headers' | 'socket'>, token?: string): void {
      check(
        browserToken,
        token ?? presentedToken(req),
        req,
        'a valid team token is required (sign in at /login, or send Authorization: Bearer …)',
      );
    },
    /**
     * Whether the request presents the team token (or none is needed), for answers that say
     * less without it; a wrong token counts, and a throttled address is not let in, as anywhere.
     */
    allows(req: Pick<IncomingMessage, 'headers' | 'socket'>): boolean {
      try {
        check(browserToken, presentedToken(req), req, '');
        return true;
      } catch {
        return false;
      }
    },
    /** A trainer daemon's handshake. */
    trainer(req: Pick<IncomingMessage, 'headers' | 'socket'>, token: string | undefined): void {
      check(trainerToken, token, req, 'a valid trainer token is required');
    },

    /** Serves GET/POST /login and POST /logout; false when the request is for neither. */
    async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
      const url = new URL(req.url ?? '/', 'http://hub');
      const secure = overHttps(req) ? '; Secure' : '';
      if (url.pathname === '/logout' && req.method === 'POST') {
        res.writeHead(303, {
          location: '/login',
          'set-cookie': `${TOKEN_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0${secure}`,
        });
        res.end();
        return true;
      }
      if (url.pathname !== '/login') return false;
      if (req.method !== 'POST') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(LOGIN_PAGE(null, url.searchParams.get('next') ?? '/'));
        return true;
      }
      let body = '';
      for await (const chunk of req) {
        body += chunk;
        if (body.length > 4096) break;
      }
      const form = new URLSearchParams(body);
      const next = form.get('next') || '/';
      const token = form.get('token') ?? '';
      try {
        check(browserToken, token, req, 'That token is not right.');
      } catch (error) {
        const limited = error instanceof HubError && error.code === 'RATE_LIMITED';
        res.writeHead(limited ? 429 : 401, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          LOGIN_PAGE(
            limited
              ? 'Too many wrong tokens from this address: wait a minute, then try again.'
              : 'That token is not right.',
            next,
          ),
        );
        return true;
      }
      res.writeHead(303, {
        location: next.startsWith('/') && !next.startsWith('//') ? next : '/',
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${COOKIE_MAX_AGE_S}${secure}`,
      });
      res.end();
      return true;
    },
  };
}
export type Auth = ReturnType<typeof createAuth>;
