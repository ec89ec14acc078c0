/**
 * docker-compose.yml runs the demo of examples/demo/ in containers. No Docker engine runs on our
 * machines, so the stack is never started here: `docker-compose config` (Debian's docker-compose
 * 1.29, offline) validates and normalizes the file, and this test checks the result against the
 * demo's model: the same workloads, ports and bootstraps. A missing docker-compose fails the test
 * (`npm test` installs it first through scripts/install-docker-compose.sh when it can).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEMO_APPS } from '../../examples/demo/apps.ts';
import { DEFAULT_CSDS_ADDRESS } from '../../src/cli/args.ts';
import { loadModelDir } from '../../src/model/load-model.ts';
import type { MeshModel, Workload } from '../../src/model/types.ts';
import { hasEnvoy } from '../../src/plan/build-proxy-plans.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO_DIR = join(ROOT, 'examples/demo');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const run = promisify(execFile);

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  entrypoint?: string[];
  command?: string[];
  network_mode?: string;
  user?: string;
  ports?: (string | { target: number; published?: number | string; host_ip?: string })[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
}
type Endpoint = { host: string; port: number };

let compose: { stdout: string; stderr: string };
let services: Record<string, ComposeService>;
let model: MeshModel;
let sidecars: Workload[];
let cp: { name: string; service: ComposeService; flags: Map<string, string | true> };
let bootstraps: { name: string; service: ComposeService; flags: Map<string, string | true> }[];
let envoys: [string, ComposeService][];
/** The apps examples/demo/run-app.ts runs, from its usage line. */
let apps: string[];

async function setup(): Promise<void> {
  try {
    compose = await run('docker-compose', ['-f', COMPOSE_FILE, 'config'], { cwd: ROOT, env: { ...process.env, COMPOSE_PROJECT_NAME: 'meshplane' } });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error("docker-compose is not installed: run scripts/install-docker-compose.sh (Debian's docker-compose package; `npm test` runs it) — this test needs it and is never skipped");
    }
    throw new Error(`docker-compose -f docker-compose.yml config failed: ${e.stderr || e.message}`);
  }
  services = (parse(compose.stdout) as { services: Record<string, ComposeService> }).services;

  const loaded = await loadModelDir(DEMO_DIR);
  if (!loaded.model) throw new Error(`examples/demo does not load: ${JSON.stringify(loaded.violations)}`);
  model = loaded.model;
  sidecars = model.workloads.filter(hasEnvoy);

  const serving = Object.entries(services).filter(([, s]) => argv(s)[0] === 'serve');
  if (serving.length !== 1) throw new Error(`expected one service running \`meshplane serve\`, found ${serving.map(([n]) => n).join(', ') || 'none'}`);
  const [[cpName, cpService]] = serving as [[string, ComposeService]];
  cp = { name: cpName, service: cpService, flags: flagsOf(argv(cpService)) };
  bootstraps = Object.entries(services)
    .filter(([, s]) => argv(s)[0] === 'bootstrap')
    .map(([name, service]) => ({ name, service, flags: flagsOf(argv(service)) }));
  envoys = Object.entries(services).filter(([, s]) => /^envoyproxy\/envoy[:@]/.test(s.image ?? ''));

  const usage = await run(process.execPath, ['--import', 'tsx', join(DEMO_DIR, 'run-app.ts')], { cwd: ROOT }).then(
    () => '',
    (e: { stderr: string }) => e.stderr,
  );
  apps = /<([^>]+)>/.exec(usage)?.[1]?.split('|') ?? [];
}

describe('docker-compose.yml, checked with `docker-compose config` (no Docker engine here)', () => {
  // A setup failure (no docker-compose, an invalid file) fails every test with its message, never skips one.
  let setupError: unknown;
  beforeAll(async () => {
    try {
      await setup();
    } catch (err) {
      setupError = err;
    }
  });
  beforeEach(() => {
    if (setupError) throw setupError;
  });

  it('is valid for docker-compose 1.29 and prints no warnings', () => {
    // docker-compose's own messages start so; a library's Python warning would not fail this.
    expect(compose.stderr.split('\n').filter((l) => /^(WARNING|ERROR)\b/i.test(l))).toEqual([]);
    expect(Object.keys(services).length).toBeGreaterThan(0);
  });

  it('builds the control plane from the repo Dockerfile and serves examples/demo from the working tree', () => {
    expect(cp.service.build?.context, `${cp.name}: build context`).toBe(ROOT);
    expect(cp.service.build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    // Every service that runs meshplane code uses the same image, built from the same Dockerfile.
    for (const [name, s] of Object.entries(services).filter(([, s]) => s.image === cp.service.image)) {
      expect(s.build?.context, `${name}: build context`).toBe(ROOT);
    }
    expect(hostPath(cp.service, flag(cp.flags, '--config')), `${cp.name}: --config must be examples/demo of this checkout, bind-mounted`).toBe(DEMO_DIR);
    // The CA root and token key live in a named volume: never in the checkout, never in the image.
    expect(mountOf(cp.service, flag(cp.flags, '--state-dir')).kind, `${cp.name}: --state-dir`).toBe('volume');
    // Ready means the state dir exists: the bootstrap jobs wait for this healthcheck.
    const admin = endpoint(flag(cp.flags, '--admin-address'));
    const health = [cp.service.healthcheck?.test ?? []].flat().join(' ');
    expect(health, `${cp.name}: healthcheck`).toMatch(new RegExp(`https?://(127\\.0\\.0\\.1|localhost):${admin.port}/readyz`));
  });

  it('plugins listed in mesh.yaml are inside examples/, which the image and the mount carry', () => {
    const plugins = (model.mesh as { plugins?: readonly { file: string }[] }).plugins ?? [];
    for (const p of plugins) {
      const file = resolve(DEMO_DIR, p.file);
      expect(relative(join(ROOT, 'examples'), file).startsWith('..'), `plugin ${p.file}`).toBe(false);
      expect(existsSync(file), `plugin ${p.file}`).toBe(true);
      expect(file.endsWith('.test.ts'), `plugin ${p.file} (.dockerignore drops tests)`).toBe(false);
    }
  });

  it('has exactly one bootstrap job per sidecar workload, against the control plane it waits for', () => {
    expect(bootstraps.map((b) => flag(b.flags, '--workload')).sort()).toEqual(sidecars.map(ref).sort());
    const xds = flag(cp.flags, '--xds-address');
    for (const b of bootstraps) {
      const what = `${b.name}`;
      expect(flag(b.flags, '--xds-address'), `${what}: --xds-address`).toBe(xds);
      expect(hostPath(b.service, flag(b.flags, '--config')), `${what}: --config`).toBe(hostPath(cp.service, flag(cp.flags, '--config')));
      // The same state dir as serve: the CA root that the bootstrap pins and the token key that signs its token.
      expect(mountOf(b.service, flag(b.flags, '--state-dir')), `${what}: --state-dir`).toEqual(mountOf(cp.service, flag(cp.flags, '--state-dir')));
      expect(mountOf(b.service, flag(b.flags, '--output')).kind, `${what}: --output on a named volume`).toBe('volume');
      expect(b.flags.has('--insecure-xds'), `${what}: --insecure-xds`).toBe(false);
      expect(dependsOn(b.service)[cp.name], `${what}: waits for ${cp.name}`).toBe('service_healthy');
      expect(b.service.image, `${what}: image`).toBe(cp.service.image);
    }
  });

  it('runs exactly one official Envoy per sidecar workload, from that workload\'s bootstrap, and none for sidecar-less ones', () => {
    const pinned = /ENVOY_VERSION="([^"]+)"/.exec(readFileSync(join(ROOT, 'scripts/install-envoy.sh'), 'utf8'))?.[1];
    expect(envoys.map(([, s]) => s.image)).toEqual(envoys.map(() => expect.stringMatching(new RegExp(`^envoyproxy/envoy:(distroless-)?v${pinned?.replaceAll('.', '\\.')}$`))));
    expect(envoys.length, 'Envoy services').toBe(sidecars.length);
    const uid = dockerfileUser().split(':')[0];
    for (const workload of sidecars) {
      const job = bootstraps.find((b) => flag(b.flags, '--workload') === ref(workload))!;
      const output = mountOf(job.service, flag(job.flags, '--output'));
      const mine = envoys.filter(([, s]) => {
        const config = flagsOf(argv(s)).get('-c') ?? flagsOf(argv(s)).get('--config-path');
        return typeof config === 'string' && JSON.stringify(mountOf(s, config)) === JSON.stringify(output);
      });
      expect(mine.map(([n]) => n), `the Envoy of ${ref(workload)} (reads ${flag(job.flags, '--output')})`).toHaveLength(1);
      const [name, envoy] = mine[0]!;
      expect(name, 'Envoy service name').toContain(workload.metadata.name);
      expect(dependsOn(envoy)[job.name], `${name}: waits for ${job.name}`).toBe('service_completed_successfully');
      // Shares the control plane's network namespace: the workload's 127.0.0.x addresses and xDS on loopback.
      expect(envoy.network_mode, `${name}: network_mode`).toBe(`service:${cp.name}`);
      // The bootstrap is mode 0600, owned by the image's user.
      expect(envoy.user?.split(':')[0], `${name}: user (the Dockerfile's USER, which owns the 0600 bootstrap)`).toBe(uid);
      const args = argv(envoy);
      expect(args, `${name}: flags as src/cli/local-envoy.ts`).toEqual(expect.arrayContaining(['--use-dynamic-base-id', '--concurrency']));
      expect(args[args.indexOf('--concurrency') + 1]).toBe('1');
    }
    for (const w of model.workloads.filter((w) => !w.sidecar)) {
      expect(envoys.map(([n]) => n).filter((n) => n.includes(w.metadata.name)), `no Envoy for ${ref(w)} (sidecar: false)`).toEqual([]);
      expect(bootstraps.filter((b) => flag(b.flags, '--workload') === ref(w)), `no bootstrap for ${ref(w)}`).toEqual([]);
    }
    expect(model.workloads.filter((w) => w.proxyless).map(ref), 'proxyless workloads have no service in docker-compose.yml').toEqual([]);
  });

  it('runs every demo app in its own service, in the shared network namespace, covering every sidecar inbound target', async () => {
    expect(apps.length, 'apps in run-app.ts usage').toBeGreaterThan(0);
    for (const app of apps) {
      const running = Object.entries(services).filter(([, s]) => {
        const a = argv(s);
        const i = a.findIndex((x) => x.endsWith('examples/demo/run-app.ts'));
        return i >= 0 && a[i + 1] === app;
      });
      expect(running.map(([n]) => n), `services running run-app.ts ${app}`).toHaveLength(1);
      const [name, s] = running[0]!;
      expect(s.network_mode, `${name}: network_mode`).toBe(`service:${cp.name}`);
      expect(s.image, `${name}: image`).toBe(cp.service.image);
    }
    // Each sidecar forwards its inbound ports to an app of DEMO_APPS that one of those services runs.
    const appPorts = appListeners().map((a) => `${a.host}:${a.port}`);
    for (const w of sidecars) {
      for (const i of w.inbound) expect(appPorts, `${ref(w)} inbound ${i.service}:${i.port} forwards to ${i.targetAddress}:${i.targetPort}`).toContain(`${i.targetAddress}:${i.targetPort}`);
    }
    for (const e of model.externalServices.filter((e) => e.address.startsWith('127.'))) {
      expect(appPorts, `ExternalService ${e.metadata.name} on loopback is a demo app`).toContain(`${e.address}:${e.port}`);
    }
  });

  it('gives every listener of the shared network namespace its own address and port', () => {
    const listeners = allListeners();
    const clashes: string[] = [];
    listeners.forEach((a, i) =>
      listeners.slice(i + 1).forEach((b) => {
        if (a.port === b.port && (a.host === b.host || a.host === '0.0.0.0' || b.host === '0.0.0.0')) clashes.push(`${a.what} and ${b.what} both on ${a.host}:${a.port} / ${b.host}:${b.port}`);
      }),
    );
    expect(clashes).toEqual([]);
    // Envoy admin ports as `meshplane demo`: one each, from 15000 in workload order.
    expect(sidecars.map((w) => flag(bootstraps.find((b) => flag(b.flags, '--workload') === ref(w))!.flags, '--admin-port'))).toEqual(sidecars.map((_, i) => String(15000 + i)));
  });

  it('publishes only the control plane admin API, on the host loopback, to a listener the published port reaches', () => {
    const published = publishedPorts();
    const admin = endpoint(flag(cp.flags, '--admin-address'));
    expect(published.map((p) => p.container), 'published container ports').toEqual([admin.port]);
    for (const p of published) expect(p.hostIp, `port ${p.container} is published to the host's loopback only`).toBe('127.0.0.1');
    // A published port reaches the container's eth0 address, never its 127.0.0.1.
    expect(admin.host, '--admin-address must bind all interfaces inside the container').toBe('0.0.0.0');
    for (const [name, s] of Object.entries(services)) if (name !== cp.name) expect(s.ports ?? [], `${name}: ports`).toEqual([]);
  });

  it('the README tells docker-compose users what to try, and it all exists in examples/demo', () => {
    const section = readmeSection();
    expect(section).toContain('docker-compose up --build');
    const lines = section.split('\n').filter((l) => /^(docker-compose exec |curl )/.test(l));
    const inside = allListeners();
    const outside = publishedPorts().map((p) => ({ host: p.hostIp, port: p.host }));
    const seen: Endpoint[] = [];
    for (const line of lines) {
      const exec = line.startsWith('docker-compose exec ');
      if (exec) expect(line, 'exec into the control plane, whose network namespace everything shares').toMatch(new RegExp(`^docker-compose exec ${cp.name} `));
      for (const e of endpointsIn(line)) {
        seen.push(e);
        const known = exec ? inside.some((l) => l.port === e.port && (l.host === e.host || l.host === '0.0.0.0')) : outside.some((o) => o.port === e.port && o.host === e.host);
        expect(known, `README: ${line}\n  ${e.host}:${e.port} is ${exec ? 'no listener in the shared namespace' : 'not published on the host'}`).toBe(true);
      }
      const from = /--interface (\S+)/.exec(line)?.[1];
      if (from) expect(model.workloads.filter((w) => !w.sidecar).map((w) => w.address), `README: ${line}: --interface is a sidecar-less workload`).toContain(from);
    }
    for (const w of sidecars.filter((w) => w.outbound.length > 0)) {
      const ports = w.outbound.map((o) => o.listenPort);
      expect(seen.some((e) => ports.includes(e.port)), `README shows a call through ${ref(w)}'s outbound ports ${ports.join(', ')}`).toBe(true);
    }
    expect(seen.some((e) => e.port === endpoint(flag(cp.flags, '--admin-address')).port), 'README shows the control plane admin API').toBe(true);
  });

  it('holds no key, token or certificate', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    expect(text).not.toMatch(/-----BEGIN|mp2\.[\w-]{8,}/);
    expect(text).not.toMatch(/^\s*(secrets|environment):/m);
  });
});

describe('Dockerfile', () => {
  const file = join(ROOT, 'Dockerfile');
  const instructions = () =>
    readFileSync(file, 'utf8')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));

  it('builds on Node 20 and runs as a fixed non-root uid', () => {
    expect(existsSync(file)).toBe(true);
    expect(instructions().find((l) => /^FROM /i.test(l))).toMatch(/^FROM node:20[-.\w]*$/i);
    expect(dockerfileUser()).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it('copies no key or token material into the image', () => {
    const secret = /\.pem$|\.key$|\.crt$|\.p12$|\.env$|\.state|xds-token|bootstrap\.yaml|id_rsa/i;
    const sources = instructions()
      .filter((l) => /^(COPY|ADD) /i.test(l))
      .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((a) => !a.startsWith('--')));
    expect(sources.filter((s) => secret.test(s)), 'COPY/ADD sources').toEqual([]);
    expect(instructions().filter((l) => /^(ENV|ARG) .*(TOKEN|SECRET|PASSWORD|KEY)/i.test(l))).toEqual([]);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['.git', 'node_modules', '.state', '.venv*', '**/*.pem', '**/*.key']) expect(ignore, `.dockerignore lists ${p}`).toContain(p);
    // What those sources hold (tests aside, which .dockerignore keeps out): no private key, no key files.
    const found: string[] = [];
    for (const s of sources) walk(join(ROOT, s), found);
    expect(found).toEqual([]);
  });
});

function walk(path: string, found: string[]): void {
  if (!existsSync(path) || /node_modules|\.test\.ts$|__snapshots__/.test(path)) return;
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) walk(join(path, entry), found);
    return;
  }
  if (/\.(pem|key|crt|p12)$/.test(path) || /-----BEGIN [A-Z ]*PRIVATE KEY-----\s*\n[A-Za-z0-9+/=]{40,}/.test(readFileSync(path, 'utf8'))) found.push(relative(ROOT, path));
}

/** The last USER of the Dockerfile. */
function dockerfileUser(): string {
  const users = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').match(/^USER\s+(\S+)/gim) ?? [];
  return users.at(-1)?.split(/\s+/)[1] ?? 'root';
}

function argv(s: ComposeService): string[] {
  // The image's entrypoint is bin/meshplane: a service without its own entrypoint runs a meshplane
  // command, and one that names bin/meshplane as its entrypoint runs the same.
  const args = [...(s.entrypoint ?? []), ...(s.command ?? [])].map(String);
  return /(^|\/)meshplane$/.test(args[0] ?? '') ? args.slice(1) : args;
}

/** `--name=value`, `--name value` and bare `--flag` (the next word starts with `-` or there is none). */
function flagsOf(args: string[]): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(0, eq), a.slice(eq + 1));
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) flags.set(a, args[++i]!);
    else flags.set(a, true);
  }
  return flags;
}

function flag(flags: Map<string, string | true>, name: string): string {
  const v = flags.get(name);
  if (typeof v !== 'string') throw new Error(`${name} is missing`);
  return v;
}

function endpoint(address: string): Endpoint {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

const ref = (w: Workload) => `${w.metadata.namespace}/${w.metadata.name}`;

function dependsOn(s: ComposeService): Record<string, string> {
  const d = s.depends_on ?? {};
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, 'service_started'])) : Object.fromEntries(Object.entries(d).map(([n, c]) => [n, c.condition]));
}

type Mount = { kind: 'volume'; name: string; path: string } | { kind: 'bind'; path: string } | { kind: 'image'; path: string };

/** Where a container path lives: in a named volume (and where in it), a host path, or the image. */
function mountOf(s: ComposeService, containerPath: string): Mount {
  const mounts = (s.volumes ?? []).map((v) => {
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });
  const m = mounts.filter((x) => containerPath === x.target || containerPath.startsWith(`${x.target}/`)).sort((a, b) => b.target.length - a.target.length)[0];
  if (!m) return { kind: 'image', path: containerPath };
  const rest = posix.relative(m.target, containerPath);
  return m.source.startsWith('/') ? { kind: 'bind', path: join(m.source, rest) } : { kind: 'volume', name: m.source, path: rest };
}

function hostPath(s: ComposeService, containerPath: string): string {
  const m = mountOf(s, containerPath);
  return m.kind === 'bind' ? m.path : `(${m.kind}) ${containerPath}`;
}

function publishedPorts(): { hostIp: string; host: number; container: number }[] {
  return (cp.service.ports ?? []).map((p) => {
    if (typeof p !== 'string') return { hostIp: p.host_ip ?? '0.0.0.0', host: Number(p.published ?? p.target), container: p.target };
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
    const container = Number(parts.at(-1));
    const host = parts.length >= 2 ? Number(parts.at(-2)) : container;
    return { hostIp: parts.length === 3 ? parts[0]! : '0.0.0.0', host, container };
  });
}

/** Everything that listens in the control plane's network namespace, which every service shares. */
function allListeners(): (Endpoint & { what: string })[] {
  const out: (Endpoint & { what: string })[] = [];
  for (const w of model.workloads) {
    for (const i of w.inbound) out.push({ host: w.address, port: i.listenPort, what: `${ref(w)} inbound ${i.service}:${i.port}` });
    for (const o of w.outbound) if (o.listenPort !== undefined) out.push({ host: o.bind ?? '127.0.0.1', port: o.listenPort, what: `${ref(w)} outbound ${o.service}` });
  }
  out.push(...appListeners());
  out.push({ ...endpoint(flag(cp.flags, '--xds-address')), what: 'control plane xDS' });
  out.push({ ...endpoint(flag(cp.flags, '--admin-address')), what: 'control plane admin' });
  out.push({ ...endpoint(typeof cp.flags.get('--csds-address') === 'string' ? flag(cp.flags, '--csds-address') : DEFAULT_CSDS_ADDRESS), what: 'control plane CSDS' });
  for (const b of bootstraps) out.push({ host: '127.0.0.1', port: Number(flag(b.flags, '--admin-port')), what: `Envoy admin of ${flag(b.flags, '--workload')}` });
  return out;
}

/** Where the apps of run-app.ts listen: DEMO_APPS under the app's name in camelCase (legacy listens nowhere). */
function appListeners(): (Endpoint & { what: string })[] {
  return apps.flatMap((app) => {
    const at = (DEMO_APPS as Record<string, unknown>)[app.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())];
    return at && typeof at === 'object' && 'port' in at ? [{ ...(at as Endpoint), what: `app ${app}` }] : [];
  });
}

function endpointsIn(line: string): Endpoint[] {
  const urls = [...line.matchAll(/https?:\/\/(\d+\.\d+\.\d+\.\d+):(\d+)/g)];
  const nc = [...line.matchAll(/\bnc(?:\s+-\S+)*\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+)/g)];
  return [...urls, ...nc].map((m) => ({ host: m[1]!, port: Number(m[2]) }));
}

/** README's "With docker-compose" subsection, up to the next heading. */
function readmeSection(): string {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = text.indexOf('\n### With docker-compose\n');
  expect(start, 'README has a "### With docker-compose" subsection').toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + 1);
  const end = rest.slice(4).search(/\n#{1,3} /);
  return end < 0 ? rest : rest.slice(0, end + 4);
}
