import type { OutboundPlan } from '../plan/proxy-plan.ts';
import { outboundListenerName, outboundStatPrefix } from './names.ts';
import { buildTerminalFilter } from './network-filters.ts';
import { upstreamClusterName } from './clusters.ts';

/** The local app reaches a service through bind:listenPort; the sidecar picks TLS per endpoint. */
export function buildOutboundListener(out: OutboundPlan) {
  const name = outboundListenerName(out.bindAddress, out.listenPort);
  return {
    name,
    address: { socket_address: { address: out.bindAddress, port_value: out.listenPort } },
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      {
        filters: [
          buildTerminalFilter({
            protocol: out.protocol,
            statPrefix: outboundStatPrefix(out.bindAddress, out.listenPort),
            cluster: upstreamClusterName(out.upstream),
            routeName: name,
          }),
        ],
      },
    ],
  };
}
