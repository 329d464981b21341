/**
 * What `npm start` says when its port is taken: that the port is in use, whether a Livetrain
 * hub answers there (its `GET /api/health`), and how to choose another port, instead of
 * Node's bare `listen EADDRINUSE`.
 */
import net from 'node:net';

/** Whether `port` on `host` can be bound now (the port is free); port 0 always can. */
export async function portFree(host: string, port: number): Promise<boolean> {
  if (port === 0) return true;
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(false) : reject(error),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** What answers on the port: a Livetrain hub (its protocol version), something else, or nothing. */
async function whoAnswers(
  url: string,
): Promise<{ kind: 'livetrain'; protocolVersion: number } | { kind: 'other' } | { kind: 'none' }> {
  // A timer of our own, which holds the process open: AbortSignal.timeout's does not, and a
  // peer that accepts and drops the connection left fetch pending with nothing else alive, so
  // the process ended mid-question with exit code 0 and nothing said.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 3000);
  try {
    const res = await fetch(`${url}/api/health`, { signal: controller.signal });
    const body = (await res.json().catch(() => null)) as {
      ok?: unknown;
      data?: { protocolVersion?: unknown };
    } | null;
    if (body?.ok === true && typeof body.data?.protocolVersion === 'number')
      return { kind: 'livetrain', protocolVersion: body.data.protocolVersion };
    return { kind: 'other' };
  } catch {
    return { kind: 'none' };
  } finally {
    clearTimeout(timer);
  }
}

/** The lines `npm start` prints when `port` on `host` is taken. */
export async function describePortInUse(host: string, port: number): Promise<string> {
  const reach = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
  const who = await whoAnswers(url);
  const lines = [`port ${port} on ${host} is already in use`];
  if (who.kind === 'livetrain')
    lines.push(
      `a Livetrain hub is already running there: open ${url} (protocol ${who.protocolVersion}), or stop it first`,
    );
  else if (who.kind === 'other')
    lines.push(`something other than a Livetrain hub answers at ${url}`);
  else lines.push(`nothing answers HTTP at ${url}; another program holds the port`);
  lines.push(
    `to start a second hub, pick another port: npm start -- --port ${port === 65535 ? 3001 : port + 1}`,
  );
  return lines.join('\n');
}
