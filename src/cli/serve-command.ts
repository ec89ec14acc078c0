import { ControlPlane } from '../control-plane.ts';
import { loadPlugins } from '../extend/load-plugins.ts';
import { DEFAULT_ADMIN_ADDRESS, DEFAULT_CSDS_ADDRESS, DEFAULT_XDS_ADDRESS, optional, positiveInt, required, type ArgValues } from './args.ts';
import { createLogger } from './logger.ts';

/** Runs until SIGINT/SIGTERM; a clean stop closes the ADS streams so the Envoys reconnect later. */
export async function serveCommand(values: ArgValues, pluginFiles: readonly string[] = []): Promise<number> {
  // Checked first: a bad number is a usage error before anything starts.
  const xdsLimits = {
    maxStreams: positiveInt(values, 'max-xds-streams'),
    maxStreamsPerNode: positiveInt(values, 'max-xds-streams-per-node'),
    requestsPerSecond: positiveInt(values, 'xds-request-rate'),
    maxMessageBytes: positiveInt(values, 'max-xds-message-bytes'),
  };
  const logger = createLogger(values['log-level']);
  // Before anything listens: a bad plugin module is a startup error, not a half-started server.
  const plugins = await loadPlugins(pluginFiles);
  if (plugins.length > 0) logger.info({ plugins: plugins.map((p) => p.plugin.name) }, 'translator plugins loaded (--plugin)');
  const cp = await ControlPlane.start({
    configDir: required(values, 'config'),
    stateDir: required(values, 'state-dir'),
    xdsAddress: optional(values, 'xds-address', DEFAULT_XDS_ADDRESS),
    adminAddress: optional(values, 'admin-address', DEFAULT_ADMIN_ADDRESS),
    csdsAddress: optional(values, 'csds-address', DEFAULT_CSDS_ADDRESS),
    insecureXds: values['insecure-xds'] === true,
    logger,
    plugins,
    xdsLimits,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('shutting down');
  await cp.stop();
  return 0;
}
