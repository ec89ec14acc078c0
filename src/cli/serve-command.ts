import { pino } from 'pino';
import { ControlPlane } from '../control-plane.ts';
import { DEFAULT_ADMIN_ADDRESS, DEFAULT_XDS_ADDRESS, optional, required, type ArgValues } from './args.ts';

/** Runs until SIGINT/SIGTERM; a clean stop closes the ADS streams so the Envoys reconnect later. */
export async function serveCommand(values: ArgValues): Promise<number> {
  const logger = pino({ level: optional(values, 'log-level', 'info'), base: undefined });
  const cp = await ControlPlane.start({
    configDir: required(values, 'config'),
    stateDir: required(values, 'state-dir'),
    xdsAddress: optional(values, 'xds-address', DEFAULT_XDS_ADDRESS),
    adminAddress: optional(values, 'admin-address', DEFAULT_ADMIN_ADDRESS),
    insecureXds: values['insecure-xds'] === true,
    logger,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('shutting down');
  await cp.stop();
  return 0;
}
