/**
 * `kind: Workload` spec: identity (serviceAccount), address, sidecar and proxyless flags, and the
 * explicit inbound and outbound ports. References to Services are checked later
 * (validate-references); what proxyless workloads can and cannot do, in validate-proxyless.
 */
import type { InboundPort, Metadata, OutboundPort, Source, Workload } from './types.ts';
import { dnsLabelProblem, isDnsSubdomain, isIPv4 } from './formats.ts';
import { describeValue, type Issues, ObjectFields } from './fields.ts';

export interface ParsedWorkload {
  workload: Workload;
  /** Field path of each kept inbound/outbound entry (entries with errors may be dropped). */
  inboundPaths: string[];
  outboundPaths: string[];
}

const LOOPBACK = '127.0.0.1';
const PORT_RANGE = { min: 1, max: 65535 } as const;
const PROTOCOL_HINT = 'the protocol comes from the Service port (spec.ports[].protocol of the Service); remove it';
const SPEC_HINTS: Readonly<Record<string, string>> = {
  networking: 'meshplane Workloads are flat: use spec.address, spec.inbound and spec.outbound',
  labels: 'labels belong in metadata.labels',
};

export function parseWorkload(spec: unknown, base: { source: Source; metadata: Metadata }, issues: Issues): ParsedWorkload {
  const workload: Workload = {
    kind: 'Workload',
    ...base,
    serviceAccount: 'default',
    address: '',
    sidecar: true,
    proxyless: false,
    inbound: [],
    outbound: [],
  };
  const result: ParsedWorkload = { workload, inboundPaths: [], outboundPaths: [] };
  if (spec === undefined || spec === null) {
    issues.error('spec', 'a Workload needs a spec: add spec: {address: 127.0.0.11, inbound: [...]}');
    return result;
  }
  const f = ObjectFields.read(issues, spec, 'spec', ['serviceAccount', 'address', 'sidecar', 'proxyless', 'inbound', 'outbound'] as const, {
    hints: SPEC_HINTS,
  });
  if (!f) return result;

  const sa = f.string('serviceAccount');
  if (sa !== undefined) {
    if (!isDnsSubdomain(sa)) {
      f.error('serviceAccount', `${JSON.stringify(sa)} is not a valid service account name: use lowercase letters, digits, '-' and '.', e.g. "backend"`);
    }
    workload.serviceAccount = sa;
  }
  const address = f.string('address', {
    required: true,
    hint: 'set the IPv4 address where peers reach this workload, e.g. 127.0.0.11 (any 127.x works locally)',
  });
  if (address !== undefined) {
    if (!isIPv4(address)) f.error('address', `${JSON.stringify(address)} is not an IPv4 address: use a literal such as 127.0.0.11`);
    else if (address === '0.0.0.0') f.error('address', 'peers cannot reach 0.0.0.0: use the address of this workload, e.g. 127.0.0.11');
    workload.address = address;
  }
  workload.sidecar = f.boolean('sidecar') ?? true;
  workload.proxyless = f.boolean('proxyless') ?? false;
  if (workload.proxyless && !workload.sidecar) {
    f.error(
      'sidecar',
      'a proxyless workload is served by the control plane like a sidecar (the app speaks xDS itself); sidecar: false would mean nothing serves it: remove sidecar: false, or remove proxyless: true for a plain workload without a sidecar',
    );
    workload.sidecar = true; // report the proxyless rules below, not the sidecar-less ones as well
  }

  const inbound: InboundPort[] = [];
  for (const item of f.list('inbound') ?? []) {
    const port = parseInbound(issues, item.value, item.path, workload);
    if (port) {
      inbound.push(port);
      result.inboundPaths.push(item.path);
    }
  }
  workload.inbound = inbound;

  const outboundItems = f.list('outbound') ?? [];
  if (!workload.sidecar && outboundItems.length > 0) {
    f.error('outbound', 'a workload without a sidecar cannot have outbound ports (there is no sidecar to listen): remove spec.outbound or set sidecar: true');
  }
  const outbound: OutboundPort[] = [];
  for (const item of outboundItems) {
    const port = parseOutbound(issues, item.value, item.path, workload.proxyless);
    if (port) {
      outbound.push(port);
      result.outboundPaths.push(item.path);
    }
  }
  workload.outbound = outbound;
  return result;
}

function parseInbound(issues: Issues, value: unknown, path: string, workload: Workload): InboundPort | undefined {
  const f = ObjectFields.read(issues, value, path, ['service', 'port', 'listenPort', 'targetPort', 'targetAddress'] as const, {
    hints: { protocol: PROTOCOL_HINT },
  });
  if (!f) return undefined;
  const service = f.string('service', { required: true, hint: "name a Service in this workload's namespace" });
  if (service !== undefined) {
    const problem = dnsLabelProblem(service);
    if (problem) {
      const qualified = service.includes('.') ? "; inbound ports can only serve a Service in the workload's own namespace, so write just its name" : '';
      f.error('service', `${problem}${qualified}`);
    }
  }
  const port = readPortName(f, 'port', true);
  const listenPort = f.integer('listenPort', {
    ...PORT_RANGE,
    required: true,
    hint: workload.sidecar && !workload.proxyless ? 'set the port the sidecar listens on for peers' : 'set the port the application listens on',
  });
  let targetPort = f.integer('targetPort', PORT_RANGE);
  let targetAddress = f.string('targetAddress');
  if (targetAddress !== undefined && !isIPv4(targetAddress)) {
    f.error('targetAddress', `${JSON.stringify(targetAddress)} is not an IPv4 address: use a literal such as 127.0.0.1`);
  }

  if (workload.proxyless) {
    // The app binds address:listenPort itself (XdsServer); nothing forwards.
    if (targetPort !== undefined && listenPort !== undefined && targetPort !== listenPort) {
      f.error(
        'targetPort',
        `a proxyless workload's application listens on listenPort ${listenPort} itself (no sidecar forwards to a targetPort): remove targetPort, or set it to ${listenPort}`,
      );
    }
    if (targetAddress !== undefined && workload.address !== '' && targetAddress !== workload.address) {
      f.error(
        'targetAddress',
        `a proxyless workload's application listens on its address ${workload.address} itself: remove targetAddress, or set it to ${workload.address}`,
      );
    }
    targetPort ??= listenPort;
    targetAddress = workload.address;
  } else if (workload.sidecar) {
    if (targetPort === undefined && !f.has('targetPort')) {
      f.missing('targetPort', 'set the port the application listens on; the sidecar forwards listenPort to targetAddress:targetPort');
    }
    targetAddress ??= LOOPBACK;
    if (listenPort !== undefined && targetPort === listenPort && targetAddress === workload.address) {
      f.error(
        'targetPort',
        `the sidecar would forward ${workload.address}:${listenPort} to itself: give the application a different targetPort or targetAddress`,
      );
    }
  } else {
    if (targetPort !== undefined && listenPort !== undefined && targetPort !== listenPort) {
      f.error(
        'targetPort',
        `a workload without a sidecar receives traffic directly on listenPort ${listenPort}; targetPort ${targetPort} would need a sidecar to forward: remove targetPort or set sidecar: true`,
      );
    }
    if (targetAddress !== undefined && workload.address !== '' && targetAddress !== workload.address) {
      f.error(
        'targetAddress',
        `a workload without a sidecar receives traffic directly on its address ${workload.address}; targetAddress ${targetAddress} would need a sidecar to forward: remove targetAddress or set sidecar: true`,
      );
    }
    targetPort ??= listenPort;
    targetAddress = workload.address;
  }
  if (service === undefined || port === undefined || listenPort === undefined || targetPort === undefined) return undefined;
  return { service, port, listenPort, targetPort, targetAddress };
}

function parseOutbound(issues: Issues, value: unknown, path: string, proxyless: boolean): OutboundPort | undefined {
  const f = ObjectFields.read(issues, value, path, ['service', 'port', 'listenPort', 'bind'] as const, {
    hints: { protocol: PROTOCOL_HINT, address: 'the sidecar listens for the application on "bind" (default 127.0.0.1); use bind' },
  });
  if (!f) return undefined;
  const service = f.string('service', { required: true, hint: 'name a Service or ExternalService as NAME or NAME.NAMESPACE' });
  if (service !== undefined) {
    const parts = service.split('.');
    if (parts.length > 2 || parts.some((p) => dnsLabelProblem(p) !== undefined)) {
      f.error('service', `${JSON.stringify(service)} is not a service reference: write NAME (same namespace) or NAME.NAMESPACE, e.g. payments.shop`);
    }
  }
  const port = readPortName(f, 'port', false);
  if (proxyless) {
    // No local listener: the app dials xds:///<port>.<service>.<namespace> and gets the endpoints over xDS.
    for (const key of ['listenPort', 'bind'] as const) {
      if (f.has(key)) {
        f.error(key, `a proxyless workload has no sidecar listening for it: the application dials xds:///<port>.<service>.<namespace> itself; remove ${key}`);
      }
    }
    return service === undefined ? undefined : { service, ...(port !== undefined && { port }) };
  }
  const listenPort = f.integer('listenPort', {
    ...PORT_RANGE,
    required: true,
    hint: 'set the local port the sidecar listens on for this application, e.g. 19001',
  });
  const bind = f.string('bind') ?? LOOPBACK;
  if (!isIPv4(bind)) f.error('bind', `${JSON.stringify(bind)} is not an IPv4 address: use a literal such as 127.0.0.1`);
  if (service === undefined || listenPort === undefined) return undefined;
  return { service, ...(port !== undefined && { port }), listenPort, bind };
}

/**
 * A port *name* of a Service. A number is accepted only for outbound (it may name an
 * ExternalService's port); for inbound it is the usual mix-up with listenPort/targetPort.
 */
function readPortName<K extends 'port'>(f: ObjectFields<K | string>, key: K, inbound: boolean): string | undefined {
  const raw = f.raw(key, inbound ? { required: true, hint: 'name a port of the Service, e.g. http-api' } : {});
  if (raw === undefined) return undefined;
  if (typeof raw === 'number' && !inbound && Number.isInteger(raw)) return String(raw);
  if (typeof raw !== 'string' || raw === '') {
    const why = typeof raw === 'number' ? ': numbers go in listenPort/targetPort' : '';
    f.error(key, `must be the name of a port of the Service (e.g. http-api), got ${describeValue(raw)}${why}`);
    return undefined;
  }
  return raw;
}
