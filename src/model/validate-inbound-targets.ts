/**
 * Inbound ports of one sidecar that forward to the same application port (targetAddress:
 * targetPort) share the sidecar's connection pool to it, one Envoy cluster, which speaks either
 * HTTP/2 (HTTP2 and GRPC ports) or not (HTTP, TCP). Ports that disagree would get whichever came
 * last: gRPC sent as HTTP/1.1, or HTTP/1.1 sent as HTTP/2. Found by test/fuzz (config-fuzz).
 */
import type { Protocol, Service } from './types.ts';
import type { Located, LocatedWorkload } from './validate-references.ts';

type Report = (file: string, path: string, message: string) => void;

const speaksHttp2 = (p: Protocol) => p === 'HTTP2' || p === 'GRPC';

export function validateInboundTargets(workloads: readonly LocatedWorkload[], services: readonly Located<Service>[], error: Report): void {
  const byName = new Map<string, Service>();
  for (const s of services) {
    const key = `${s.value.metadata.namespace}/${s.value.metadata.name}`;
    if (!byName.has(key)) byName.set(key, s.value); // the first of a clash, as a search would find
  }
  const protocolOf = (namespace: string, service: string, port: string): Protocol | undefined =>
    byName.get(`${namespace}/${service}`)?.ports.find((p) => p.name === port)?.protocol;
  for (const w of workloads) {
    if (!w.value.sidecar || w.value.proxyless) continue; // nothing forwards: the app listens itself
    const first = new Map<string, { path: string; port: string; protocol: Protocol }>();
    w.value.inbound.forEach((port, i) => {
      const protocol = protocolOf(w.value.metadata.namespace, port.service, port.port);
      if (protocol === undefined) return; // a broken reference, reported elsewhere
      const target = `${port.targetAddress}:${port.targetPort}`;
      const seen = first.get(target);
      if (!seen) return void first.set(target, { path: w.inboundPaths[i]!, port: `${port.service}/${port.port}`, protocol });
      if (speaksHttp2(seen.protocol) === speaksHttp2(protocol)) return;
      error(
        w.file,
        `${w.inboundPaths[i]!}.targetPort`,
        `forwards ${port.service}/${port.port} (${protocol}) to ${target}, where ${seen.path} already forwards ${seen.port} (${seen.protocol}); the sidecar talks to one application port either in HTTP/2 (HTTP2, GRPC) or not (HTTP, TCP): give this port its own targetPort, or both the same protocol`,
      );
    });
  }
}
