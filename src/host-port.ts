import { MeshplaneError } from './errors.ts';

/** `host:port` (IPv6 in brackets) as given on the command line. */
export function splitHostPort(address: string, flag = 'address'): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MeshplaneError('USAGE', `${flag} "${address}" must be host:port, e.g. 127.0.0.1:15014`);
  }
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port };
}
