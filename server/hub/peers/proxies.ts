/**
 * Which peers are proxies the hub believes: only they may say who the client is
 * (`X-Forwarded-For`) and that it came over HTTPS (`X-Forwarded-Proto`). By default a proxy on
 * this machine (loopback); `--trusted-proxy` adds addresses or CIDR ranges (nginx on another
 * host). Anyone else's forwarded headers are ignored: a client could write them itself.
 * Matching is Node's own `net.BlockList`.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

type Req = Pick<IncomingMessage, 'headers' | 'socket'>;

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.5`) is that IPv4 address. */
const unmapped = (address: string) =>
  /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;

/** Why `entry` is not an address or CIDR range, or null when it is one. */
export function proxyEntryProblem(entry: string): string | null {
  const [address, bits, extra] = entry.split('/');
  const family = net.isIP(address);
  if (!family || extra !== undefined)
    return `"${entry}" is not an IP address or a CIDR range like 10.0.0.0/8`;
  if (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)))
    return `"${entry}": the prefix length must be 0–${family === 4 ? 32 : 128}`;
  return null;
}

export interface ProxyTrust {
  /** Who is asking: the peer, or when the peer is a trusted proxy, the client its forwarded-for chain names. */
  clientAddress(req: Req): string;
  /** Whether the request came over HTTPS: directly, or through a trusted proxy that says so. */
  overHttps(req: Req): boolean;
}

export function createProxyTrust(extra: readonly string[] = []): ProxyTrust {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const entry of extra) {
    const problem = proxyEntryProblem(entry);
    if (problem) throw new Error(`trusted proxy ${problem}`);
    const [address, bits] = entry.split('/');
    const family = net.isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  const trusted = (address: string | undefined): boolean => {
    if (!address) return false;
    const a = unmapped(address);
    const family = net.isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    clientAddress(req) {
      const peer = unmapped(req.socket.remoteAddress ?? 'unknown');
      const forwarded = req.headers['x-forwarded-for'];
      if (!trusted(peer) || typeof forwarded !== 'string') return peer;
      // Each proxy appends who it heard from: walk back past the trusted ones to the client.
      const chain = forwarded
        .split(',')
        .map((s) => unmapped(s.trim()))
        .filter(Boolean);
      for (let i = chain.length - 1; i >= 0; i--)
        if (!trusted(chain[i]) || i === 0) return chain[i];
      return peer;
    },
    overHttps(req) {
      if ('encrypted' in req.socket && req.socket.encrypted) return true;
      const proto = req.headers['x-forwarded-proto'];
      // Several proxies: the first one met the client.
      return (
        trusted(req.socket.remoteAddress) &&
        typeof proto === 'string' &&
        proto.split(',')[0].trim() === 'https'
      );
    },
  };
}
