import { DEFAULT_ADMIN_ADDRESS, optional, type ArgValues } from './args.ts';

interface TypeStatus {
  versionSent?: string;
  versionAcked?: string;
  lastNack?: { version?: string; message: string; at: string };
}
interface ProxyStatusRow {
  nodeId: string;
  connectedAt?: string;
  types?: Record<string, TypeStatus>;
  certificate?: { notAfter?: string; serialNumber?: string };
}

const SHORT: Record<string, string> = { Listener: 'LDS', Cluster: 'CDS', Secret: 'SDS', RouteConfiguration: 'RDS', ClusterLoadAssignment: 'EDS' };

/** Like `istioctl proxy-status`: per proxy and type SYNCED / STALE / NACKED / NOT SENT. */
export async function statusCommand(values: ArgValues): Promise<number> {
  const admin = optional(values, 'admin-address', DEFAULT_ADMIN_ADDRESS);
  let rows: ProxyStatusRow[];
  try {
    const res = await fetch(`http://${admin}/debug/proxies`);
    rows = (await res.json()) as ProxyStatusRow[];
  } catch (err) {
    console.error(`meshplane status: cannot reach the control plane admin at ${admin} (${(err as Error).message}); is \`meshplane serve\` running? pass --admin-address`);
    return 1;
  }
  if (values.output === 'json') {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  const header = ['NODE', 'CDS', 'LDS', 'SDS', 'CERT EXPIRES', 'LAST NACK'];
  const table = rows.map((r) => {
    const byShort = Object.fromEntries(Object.entries(r.types ?? {}).map(([url, t]) => [SHORT[url.split('.').pop()!] ?? url, t]));
    const state = (t: TypeStatus | undefined) =>
      !t || !t.versionSent ? 'NOT SENT' : t.lastNack && t.lastNack.version !== t.versionAcked && t.versionAcked !== t.versionSent ? 'NACKED' : t.versionAcked === t.versionSent ? 'SYNCED' : 'STALE';
    const nack = Object.values(r.types ?? {}).find((t) => t.lastNack)?.lastNack;
    return [r.nodeId, state(byShort.CDS), state(byShort.LDS), state(byShort.SDS), r.certificate?.notAfter ?? '-', nack ? `${nack.at} ${nack.message.slice(0, 60)}` : '-'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
  for (const row of [header, ...table]) console.log(row.map((c, i) => String(c).padEnd(widths[i]!)).join('  ').trimEnd());
  if (rows.length === 0) console.log('(no proxy connected)');
  return 0;
}
