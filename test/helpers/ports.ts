/** Free TCP ports picked at run time, so parallel test files and several Envoys never collide. */
import { createServer, type Server } from 'node:net';

function listenOnZero(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('listener has no TCP address');
  return addr.port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One port the kernel reports free on `host` right now (there is a small race until it is bound again). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = await listenOnZero(host);
  const port = portOf(server);
  await close(server);
  return port;
}

/** `n` distinct free ports: all listeners are held open together so the kernel cannot hand one out twice. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenOnZero(host));
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}
