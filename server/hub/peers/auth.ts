/**
 * Tokens. On loopback with no token configured everything local is trusted. Otherwise
 * browsers and HTTP clients present LIVETRAIN_TOKEN (a cookie set by the login page, or
 * `Authorization: Bearer`), trainers present LIVETRAIN_TRAINER_TOKEN.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const TOKEN_COOKIE = 'livetrain_token';

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(expected: string | null, presented: string | undefined | null): boolean {
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

/** The token a request presents: bearer header first, then the login cookie. */
export function presentedToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return parseCookies(req.headers.cookie)[TOKEN_COOKIE];
}

const LOGIN_PAGE = (failed: boolean, next: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Livetrain · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;background:#f6f7f9}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.75rem;min-width:18rem}
.err{color:#b00020}</style></head><body>
<form method="post" action="/login"><h1>Livetrain</h1>
<label for="token">Team token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${next.replace(/[^A-Za-z0-9/_?=&.-]/g, '')}">
${failed ? '<p class="err" role="alert">That token is not right.</p>' : ''}
<button type="submit">Sign in</button></form></body></html>`;

/** Serves GET/POST /login; returns false when the request is not for the login page. */
export async function handleLogin(req: IncomingMessage, res: ServerResponse, token: string | null): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://hub');
  if (url.pathname !== '/login') return false;
  if (req.method === 'POST') {
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 4096) break;
    }
    const form = new URLSearchParams(body);
    const next = form.get('next') || '/';
    if (tokenMatches(token, form.get('token'))) {
      res.writeHead(303, {
        location: next.startsWith('/') && !next.startsWith('//') ? next : '/',
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(form.get('token') ?? '')}; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000`,
      });
      res.end();
    } else {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
      res.end(LOGIN_PAGE(true, next));
    }
    return true;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(LOGIN_PAGE(false, url.searchParams.get('next') ?? '/'));
  return true;
}
