/**
 * `kind: Service` spec: named ports with a protocol (explicit, or from the name prefix).
 * Port numbers live on each Workload's inbound, not here.
 */
import type { Metadata, Service, ServicePort, Source } from './types.ts';
import { dnsLabelProblem } from './formats.ts';
import { type Issues, ObjectFields } from './fields.ts';
import { parsePortProtocol } from './port-protocol.ts';

const NO_NUMBERS =
  'Service ports have no number in meshplane: each Workload sets spec.inbound[].listenPort/targetPort for this port name; remove it';
const PORT_HINTS: Readonly<Record<string, string>> = {
  port: NO_NUMBERS,
  targetPort: NO_NUMBERS,
  nodePort: NO_NUMBERS,
  appProtocol: 'use "protocol" (HTTP, HTTP2, GRPC or TCP) instead',
};
const SPEC_HINTS: Readonly<Record<string, string>> = {
  selector: 'a Workload joins a Service by listing it in its spec.inbound; remove it',
  type: 'meshplane Services have no type; remove it',
  clusterIP: 'meshplane Services have no virtual IP; outbound listeners are declared on each Workload; remove it',
};

export function parseService(spec: unknown, base: { source: Source; metadata: Metadata }, issues: Issues): Service {
  const service: Service = { kind: 'Service', ...base, ports: [] };
  if (spec === undefined || spec === null) {
    issues.error('spec', 'a Service needs a spec: add spec: {ports: [{name: http-api, protocol: HTTP}]}');
    return service;
  }
  const f = ObjectFields.read(issues, spec, 'spec', ['ports'] as const, { hints: SPEC_HINTS });
  if (!f) return service;
  const items = f.list('ports', { required: true, hint: 'list the ports, e.g. ports: [{name: http-api, protocol: HTTP}]' });
  if (!items) return service;
  if (items.length === 0) {
    f.error('ports', 'must list at least one port, e.g. ports: [{name: http-api, protocol: HTTP}]');
    return service;
  }

  const ports: ServicePort[] = [];
  const seen = new Map<string, string>();
  for (const item of items) {
    const p = ObjectFields.read(issues, item.value, item.path, ['name', 'protocol'] as const, { hints: PORT_HINTS });
    if (!p) continue;
    const name = p.string('name', { required: true, hint: 'name the port, e.g. http-api (the prefix sets the protocol)' });
    if (name === undefined) continue;
    const problem = dnsLabelProblem(name);
    if (problem) p.error('name', problem);
    const first = seen.get(name);
    if (first !== undefined) {
      p.error('name', `port name ${JSON.stringify(name)} is already used by ${first}: port names must be unique within a Service; rename one`);
      continue;
    }
    seen.set(name, item.path);
    const protocol = parsePortProtocol(issues, name, p.raw('protocol'), { name: p.pathOf('name'), protocol: p.pathOf('protocol') });
    // An invalid protocol is already reported; keep the port so references to it do not cascade.
    ports.push({ name, protocol: protocol ?? 'TCP' });
  }
  service.ports = ports;
  return service;
}
