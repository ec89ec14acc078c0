/**
 * One demo app per process, for docker-compose: `node --import tsx examples/demo/run-app.ts backend`.
 * (`meshplane demo` starts all of them in its own process instead.)
 */
import { startBackend, startBackendEcho, startFrontend, startLegacyClient, startTelemetrySink, type SampleApp } from './apps.ts';

const APPS: Record<string, () => Promise<SampleApp> | SampleApp> = {
  backend: startBackend,
  'backend-echo': startBackendEcho,
  frontend: startFrontend,
  telemetry: startTelemetrySink,
  legacy: () => startLegacyClient((line) => console.log(line)),
};

const name = process.argv[2] ?? '';
const start = APPS[name];
if (!start) {
  console.error(`usage: run-app.ts <${Object.keys(APPS).join('|')}>`);
  process.exit(2);
}
const app = await start();
console.log(`${app.name} started`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
