import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { MeshplaneError } from '../errors.ts';
import { splitHostPort } from '../host-port.ts';

export interface AdminSources {
  /** Ready = a config is being served and the xDS port is open. */
  ready(): boolean;
  registry: Registry;
  /** JSON documents served under /debug/<name>; a MeshplaneError USAGE (a bad query) is a 400. */
  debug: Readonly<Record<string, (query: URLSearchParams) => unknown>>;
}

/** Admin HTTP, read-only (GET/HEAD; anything else 405): /healthz, /readyz, /metrics (Prometheus), /debug/<name> (JSON). Loopback by default. */
export async function startAdminServer(address: string, sources: AdminSources): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    // Read-only: nothing here changes the control plane, so no method but GET/HEAD, and no token.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(405, `method ${req.method} not allowed: the admin API is read-only, use GET\n`);
    }
    try {
      if (path === '/healthz') return send(200, 'ok\n');
      if (path === '/readyz') return sources.ready() ? send(200, 'ready\n') : send(503, 'not ready\n');
      if (path === '/metrics') return send(200, await sources.registry.metrics(), sources.registry.contentType);
      const name = path.startsWith('/debug/') ? path.slice('/debug/'.length) : undefined;
      const debug = name !== undefined && Object.hasOwn(sources.debug, name) ? sources.debug[name] : undefined;
      if (debug) return send(200, `${JSON.stringify(debug(url.searchParams), null, 2)}\n`, 'application/json');
      const index = ['/healthz', '/readyz', '/metrics', ...Object.keys(sources.debug).map((d) => `/debug/${d}`)];
      return send(404, `not found; try ${index.join(' ')}\n`);
    } catch (err) {
      if (err instanceof MeshplaneError && err.code === 'USAGE') return send(400, `${err.message}\n`);
      return send(500, `${err instanceof Error ? err.message : String(err)}\n`);
    }
  });
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  return {
    server,
    port: typeof bound === 'object' && bound ? bound.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
