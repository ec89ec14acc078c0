/**
 * Test clients with hard timeouts and a fresh connection per call (no keep-alive pooling), so each
 * request really exercises the listener's accept + TLS/filter chain path under test.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface HttpGetOptions {
  /** Source address to bind, e.g. `127.0.0.2`, to look like a different workload. */
  localAddress?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
  method?: string;
}

export interface HttpGetResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed body when it is JSON, else undefined. */
  json?: any;
}

/** Resolves with any HTTP response (including 5xx); rejects on connection errors or timeout. */
export function httpGet(url: string, { localAddress, timeoutMs = 3000, headers, method = 'GET' }: HttpGetOptions = {}): Promise<HttpGetResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      reject(new Error(`${method} ${url} failed: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`, { cause: err }));
    };
    // The path is sent as written (`/api/../admin` stays so), unlike `new URL()` which resolves it.
    const { protocol, hostname, port } = new URL(url);
    const slash = url.indexOf('/', protocol.length + 2);
    const path = slash < 0 ? '/' : url.slice(slash);
    const req = request({ protocol, hostname, port, path, method, agent: false, localAddress, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error('response closed before it was complete'));
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: parseJson(body, res.headers['content-type']) });
      });
    });
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', fail);
    req.end();
  });
}

function parseJson(body: string, contentType: string | undefined): unknown {
  if (!contentType?.includes('json')) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export interface ExpectHttpFailsOptions extends HttpGetOptions {
  /** Statuses that also count as failure (e.g. [503] when a proxy in front answers for a dead upstream). */
  failStatuses?: number[];
}

/**
 * Resolves with the failure message when the request fails at connection level (refused, reset,
 * hang-up, timeout) or with a status listed in `failStatuses`; rejects when a response arrives.
 */
export async function expectHttpFails(url: string, { failStatuses = [], ...opts }: ExpectHttpFailsOptions = {}): Promise<string> {
  let res: HttpGetResult;
  try {
    res = await httpGet(url, opts);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (failStatuses.includes(res.status)) return `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
  throw new Error(`expected GET ${url} to fail, but it answered HTTP ${res.status}: ${res.body.slice(0, 200)}`);
}

export interface TcpEchoRoundTripOptions {
  host: string;
  port: number;
  localAddress?: string;
  payload: string;
  timeoutMs?: number;
}

/**
 * Sends `payload` and resolves once as many bytes came back; rejects on error, timeout, or the peer
 * closing first (what tcp_proxy does when its upstream connect or TLS handshake fails).
 */
export function tcpEchoRoundTrip({ host, port, localAddress, payload, timeoutMs = 3000 }: TcpEchoRoundTripOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const expected = Buffer.byteLength(payload);
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(new Error(`TCP round trip to ${host}:${port} failed: ${err.message}`, { cause: err }));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const socket = connect({ host, port, localAddress }, () => socket.write(payload));
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms with ${received}/${expected} bytes echoed`)), timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      received += c.length;
      if (received >= expected) finish();
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`connection closed after ${received}/${expected} bytes echoed`)));
  });
}
