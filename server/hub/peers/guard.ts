/**
 * What a web page the hub's owner visits cannot make the hub do. Every request must name the
 * hub by one of its own host names (a DNS-rebinding page names its own, and is refused); a
 * request that changes something, and every Socket.IO handshake, must come from the hub's own
 * pages (`Origin`, or `Sec-Fetch-Site` where there is no `Origin`) or from no page at all
 * (curl, scripts, the Python client, trainer daemons send neither header). Every response
 * carries the security headers. See docs/security.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError } from '../errors';

/** The names a hub answers to without being told more: loopback. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const;

export interface GuardOptions {
  /**
   * Addresses people reach the hub by besides loopback (`--public-url`, e.g.
   * `https://livetrain.example.com` behind a proxy, `http://10.0.0.5:3000` on a LAN).
   */
  publicUrls?: readonly string[];
  /** Next's dev server evaluates code for hot reload: its pages need `'unsafe-eval'`. */
  dev?: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Next's pages inline their bootstrap and streamed data as scripts and styles, hence
 * `'unsafe-inline'`; nothing else is loaded from anywhere but the hub, and no other site may
 * frame it.
 */
function contentSecurityPolicy(dev: boolean): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${dev ? ' ws: wss:' : ''}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The host name of a `Host` header value (`[::1]` for IPv6), lower-case; null when unusable. */
function hostnameOf(host: string): string | null {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

export function createRequestGuard(opts: GuardOptions = {}) {
  const publicUrls = (opts.publicUrls ?? []).map((u) => new URL(u));
  const hosts = new Set<string>([
    ...LOOPBACK_HOSTS,
    ...publicUrls.map((u) => u.hostname.toLowerCase()),
  ]);
  const origins = new Set(publicUrls.map((u) => u.origin));
  const csp = contentSecurityPolicy(opts.dev ?? false);
  const named = [...hosts].join(', ');

  /** Why the request's `Host` is not this hub's, or null. */
  function foreignHost(req: IncomingMessage): string | null {
    const host = req.headers.host;
    // HTTP/1.0 without Host: no browser sends that.
    if (host === undefined) return null;
    const name = hostnameOf(host);
    if (name && hosts.has(name)) return null;
    return `this hub does not answer to the name "${host}": it answers to ${named}; start it with --public-url (or LIVETRAIN_PUBLIC_URL) set to the address people use to reach it`;
  }

  /** Which other site's page sent the request, or null when it is the hub's own or none. */
  function crossSite(req: IncomingMessage): string | null {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (origins.has(origin)) return null;
      let url: URL | null;
      try {
        url = origin === 'null' ? null : new URL(origin);
      } catch {
        url = null;
      }
      // The hub's own pages: the origin is the very host the request names (checked above).
      if (url && url.host === req.headers.host && hosts.has(url.hostname.toLowerCase()))
        return null;
      return origin === 'null' ? 'a page with no origin (a sandboxed frame or a file)' : origin;
    }
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return `a ${site} page`;
    return null;
  }

  return {
    /**
     * Refuses a request that does not name this hub or (when it changes something) comes from
     * another site's page; sets the security headers on every response.
     * @throws HubError FORBIDDEN, with what was wrong in words
     */
    check(req: IncomingMessage, res: ServerResponse): void {
      res.setHeader('content-security-policy', csp);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'same-origin');
      res.setHeader('x-frame-options', 'DENY');
      res.setHeader('cross-origin-opener-policy', 'same-origin');
      const host = foreignHost(req);
      if (host) throw new HubError('FORBIDDEN', host);
      if (SAFE_METHODS.has(req.method ?? 'GET')) return;
      const from = crossSite(req);
      if (from)
        throw new HubError(
          'FORBIDDEN',
          `requests from other sites are refused: this one came from ${from}, not from this hub's own pages`,
        );
    },

    /** Socket.IO's `allowRequest`: the same rules for every handshake, both namespaces. */
    allowRequest(
      req: IncomingMessage,
      callback: (err: string | null | undefined, success: boolean) => void,
    ): void {
      const from = crossSite(req);
      const problem =
        foreignHost(req) ?? (from ? `connections from other sites are refused (${from})` : null);
      callback(problem, problem === null);
    },
  };
}
