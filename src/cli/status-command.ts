import type { ProxyStatus, TypeStatus } from '../xds/proxy-status.ts';
import { shortTypeName } from '../xds/type-urls.ts';
import { DEFAULT_ADMIN_ADDRESS, optional, type ArgValues } from './args.ts';

/** A row of the control plane's /debug/proxies: the certificate is the one the proxy ACKed. */
type ProxyRow = ProxyStatus & { certificate?: { serialNumber: string; notAfter: string } };

/** Per proxy and type, the server's state: SYNCED, STALE (sent, not ACKed yet), NACKED or NOT SENT (as istioctl proxy-status). */
const stateOf = (t: TypeStatus | undefined): string => t?.state ?? 'NOT SENT';

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
  // RDS and EDS only appear when some proxy uses them (proxyless gRPC clients do).
  const types = ['CDS', 'LDS', 'RDS', 'EDS', 'SDS'].filter((t) => ['CDS', 'LDS', 'SDS'].includes(t) || rows.some((r) => r.types.some((x) => shortTypeName(x.typeUrl) === t)));
  const header = ['NODE', 'XDS', ...types, 'CERT SERIAL', 'CERT EXPIRES', 'LAST NACK'];
  const table = rows.map((r) => {
    const byType = new Map(r.types.map((t) => [shortTypeName(t.typeUrl), t]));
    const nack = r.types.filter((t) => t.lastNack).map((t) => `${shortTypeName(t.typeUrl)} ${t.lastNack!.at}: ${oneLine(t.lastNack!.message)}`)[0];
    const serial = r.certificate ? r.certificate.serialNumber.slice(0, 16) : '-';
    return [r.nodeId, r.transport === 'delta' ? 'Delta' : 'SotW', ...types.map((t) => stateOf(byType.get(t))), serial, r.certificate?.notAfter ?? '-', nack ?? '-'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  for (const row of [header, ...table]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (rows.length === 0) console.log('(no proxy connected)');
  return 0;
}

/** Envoy's NACK text spans lines; the table keeps the first 100 characters of it on one line (`--output json` has all). */
function oneLine(message: string): string {
  const flat = message.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 99)}…` : flat;
}
