/** Tiny upstream apps that Envoy proxies to in e2e tests. */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface HttpApp {
  port: number;
  /** Requests served so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Answers every request with 200 and JSON `{app, method, path, headers, remoteAddress}`, so tests
 * can see what Envoy forwarded (e.g. `x-forwarded-client-cert`). `port: 0` picks a free port.
 */
export async function startHttpApp({ host = '127.0.0.1', port = 0, name }: { host?: string; port?: number; name: string }): Promise<HttpApp> {
  let requests = 0;
  const server = createHttpServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ app: name, method: req.method, path: req.url, headers: req.headers, remoteAddress: req.socket.remoteAddress });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await listen(server, host, port);
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Envoy keeps upstream connections pooled; drop them or close() waits for ever.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TcpEcho {
  port: number;
  close(): Promise<void>;
}

/** Echoes every byte back on the same connection. */
export async function startTcpEcho({ host = '127.0.0.1', port = 0 }: { host?: string; port?: number }): Promise<TcpEcho> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await listen(server, host, port);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
}
