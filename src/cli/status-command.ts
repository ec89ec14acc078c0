import type { ProxyStatus, TypeStatus } from '../xds/proxy-status.ts';
import { DEFAULT_ADMIN_ADDRESS, optional, type ArgValues } from './args.ts';

/** A row of the control plane's /debug/proxies: the certificate is the one the proxy ACKed. */
type ProxyRow = ProxyStatus & { certificate?: { serialNumber: string; notAfter: string } };

const SHORT: Record<string, string> = { Listener: 'LDS', Cluster: 'CDS', Secret: 'SDS', RouteConfiguration: 'RDS', ClusterLoadAssignment: 'EDS' };
const shortType = (typeUrl: string) => SHORT[typeUrl.split('.').pop()!] ?? typeUrl;

/** Like `istioctl proxy-status`: per proxy and type SYNCED, STALE (sent, not ACKed), NACKED or NOT SENT. */
function syncState(t: TypeStatus | undefined): string {
  if (!t?.versionSent) return 'NOT SENT';
  if (t.versionAcked === t.versionSent) return 'SYNCED';
  if (t.lastNack?.version === t.versionSent) return 'NACKED';
  return 'STALE';
}

export async function statusCommand(values: ArgValues): Promise<number> {
  const admin = optional(values, 'admin-address', DEFAULT_ADMIN_ADDRESS);
  let rows: ProxyRow[];
  try {
    const res = await fetch(`http://${admin}/debug/proxies`);
    rows = (await res.json()) as ProxyRow[];
  } catch (err) {
    console.error(`meshplane status: cannot reach the control plane admin at ${admin} (${(err as Error).message}); is \`meshplane serve\` running? Pass --admin-address.`);
    return 1;
  }
  if (values.output === 'json') {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  const header = ['NODE', 'CDS', 'LDS', 'SDS', 'CERT SERIAL', 'CERT EXPIRES', 'LAST NACK'];
  const table = rows.map((r) => {
    const byType = new Map(r.types.map((t) => [shortType(t.typeUrl), t]));
    const nack = r.types.filter((t) => t.lastNack).map((t) => `${shortType(t.typeUrl)} ${t.lastNack!.at}: ${t.lastNack!.message.slice(0, 80)}`)[0];
    const serial = r.certificate ? r.certificate.serialNumber.slice(0, 16) : '-';
    return [r.nodeId, syncState(byType.get('CDS')), syncState(byType.get('LDS')), syncState(byType.get('SDS')), serial, r.certificate?.notAfter ?? '-', nack ?? '-'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  for (const row of [header, ...table]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (rows.length === 0) console.log('(no proxy connected)');
  return 0;
}
