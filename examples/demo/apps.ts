/**
 * The sample apps of the demo mesh, each a few lines on purpose:
 *
 * - backend (HTTP :8080) answers with who it is, who called it (the x-forwarded-client-cert header
 *   its sidecar sets from the caller's verified certificate) and the `x-` headers it received;
 * - backend-echo (TCP :9090) echoes;
 * - frontend (HTTP :8081) calls the backend through its sidecar (127.0.0.1:19001) and sends one
 *   line per request to the telemetry collector, also through its sidecar (127.0.0.1:19003);
 * - telemetry (TCP 127.0.0.1:4317) is the external plaintext collector: it counts lines;
 * - legacy-1 has no sidecar: every 2 s it calls the backend's sidecar port from 127.0.0.13 in
 *   plaintext, and reports when its calls start or stop working.
 *
 * `meshplane demo` starts them in its own process; docker-compose runs each with run-app.ts.
 */
import { createServer as createHttpServer, request } from 'node:http';
import { connect, createServer as createTcpServer, type Server } from 'node:net';

export interface SampleApp {
  name: string;
  close(): Promise<void>;
}

/** Where the apps listen and call; the same in the local demo and in docker-compose (one network namespace). */
export const DEMO_APPS = {
  backend: { host: '127.0.0.1', port: 8080 },
  backendEcho: { host: '127.0.0.1', port: 9090 },
  frontend: { host: '127.0.0.1', port: 8081 },
  telemetry: { host: '127.0.0.1', port: 4317 },
  /** The frontend's sidecar outbounds (workloads.yaml). */
  frontendToBackend: 'http://127.0.0.1:19001',
  frontendToTelemetry: { host: '127.0.0.1', port: 19003 },
  /** legacy-1's own address and the backend sidecar's inbound port it calls. */
  legacy: { from: '127.0.0.13', to: 'http://127.0.0.11:18080/legacy', everyMs: 2000 },
} as const;

export function startBackend(): Promise<SampleApp> {
  const server = createHttpServer((req, res) => {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-') && k !== 'x-forwarded-client-cert'));
    const body = { app: 'backend', method: req.method, path: req.url, caller: req.headers['x-forwarded-client-cert'] ?? null, headers };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  });
  return listen(server, 'backend', DEMO_APPS.backend);
}

export function startBackendEcho(): Promise<SampleApp> {
  const server = createTcpServer((socket) => socket.pipe(socket).on('error', () => socket.destroy()));
  return listen(server, 'backend-echo', DEMO_APPS.backendEcho);
}

export function startFrontend(): Promise<SampleApp> {
  const server = createHttpServer((req, res) => {
    sendTelemetry(`${new Date().toISOString()} frontend ${req.method} ${req.url}\n`);
    const upstream = request(`${DEMO_APPS.frontendToBackend}${req.url ?? '/'}`, { method: req.method, timeout: 5000 }, (up) => {
      let body = '';
      up.setEncoding('utf8').on('data', (c: string) => (body += c));
      up.on('end', () => {
        res.writeHead(up.statusCode ?? 502, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ app: 'frontend', backendStatus: up.statusCode, backend: parseOrText(body) })}\n`);
      });
    });
    upstream.on('timeout', () => upstream.destroy(new Error('backend timed out')));
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ app: 'frontend', error: err.message })}\n`);
    });
    upstream.end();
  });
  return listen(server, 'frontend', DEMO_APPS.frontend);
}

/** The external collector; `received()` counts the lines so far. */
export async function startTelemetrySink(): Promise<SampleApp & { received(): number }> {
  let lines = 0;
  const server = createTcpServer((socket) => {
    socket.setEncoding('utf8').on('data', (chunk: string) => (lines += chunk.split('\n').length - 1));
    socket.on('error', () => socket.destroy());
  });
  const app = await listen(server, 'telemetry', DEMO_APPS.telemetry);
  return { ...app, received: () => lines };
}

/** legacy-1's loop; `report` hears each change between working and failing. */
export function startLegacyClient(report: (line: string) => void): SampleApp {
  let last = '';
  const once = () => {
    const req = request(DEMO_APPS.legacy.to, { localAddress: DEMO_APPS.legacy.from, timeout: 1500 }, (res) => {
      res.resume();
      note(`HTTP ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => note(`failed (${err.code ?? err.message})`));
    req.end();
  };
  const note = (outcome: string) => {
    if (outcome !== last) report(`legacy-1 -> backend (plaintext): ${outcome}`);
    last = outcome;
  };
  once();
  const timer = setInterval(once, DEMO_APPS.legacy.everyMs);
  return { name: 'legacy-1', close: async () => clearInterval(timer) };
}

function sendTelemetry(line: string): void {
  const socket = connect(DEMO_APPS.frontendToTelemetry.port, DEMO_APPS.frontendToTelemetry.host);
  socket.on('error', () => socket.destroy()); // telemetry is best effort
  socket.end(line);
}

function parseOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function listen(server: Server, name: string, at: { host: string; port: number }): Promise<SampleApp> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve({ name, close: () => new Promise((done) => server.close(() => done())) }));
  });
}
