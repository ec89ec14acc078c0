/**
 * The sample apps of the local mesh: each HTTP app answers with who it is and who called it (the
 * x-forwarded-client-cert header its sidecar sets from the caller's verified certificate).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';

export interface SampleApp {
  name: string;
  url: string;
  close(): Promise<void>;
}

export function startHttpApp(name: string, host: string, port: number): Promise<SampleApp> {
  const server = createHttpServer((req, res) => {
    const body = { app: name, method: req.method, path: req.url, caller: req.headers['x-forwarded-client-cert'] ?? null };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  });
  return listen(server, name, `http://${host}:${port}/`, host, port);
}

export function startTcpEcho(name: string, host: string, port: number): Promise<SampleApp> {
  const server = createTcpServer((socket) => socket.pipe(socket).on('error', () => socket.destroy()));
  return listen(server, name, `tcp://${host}:${port}`, host, port);
}

function listen(server: import('node:net').Server, name: string, url: string, host: string, port: number): Promise<SampleApp> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({ name, url, close: () => new Promise((done) => server.close(() => done())) }),
    );
  });
}
