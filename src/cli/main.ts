import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatViolation, MeshplaneError } from '../errors.ts';
import { DEFAULT_ADMIN_ADDRESS, DEFAULT_CSDS_ADDRESS, DEFAULT_XDS_ADDRESS } from './args.ts';
import { adviseStrictCommand } from './advise-command.ts';
import { bootstrapCommand } from './bootstrap-command.ts';
import { caStatusCommand, rotateRootCommand } from './ca-command.ts';
import { demoCommand } from './demo-command.ts';
import { explainCommand, type ExplainArgs } from './explain-command.ts';
import { serveCommand } from './serve-command.ts';
import { statusCommand } from './status-command.ts';
import { tokenListCommand, tokenRevokeCommand } from './token-command.ts';
import { validateCommand } from './validate-command.ts';
import { DEFAULT_XDS_LIMITS } from '../xds/xds-limits.ts';


type Options = NonNullable<ParseArgsConfig['options']>;
const str = (description: string) => ({ type: 'string' as const, description });
const flag = (description: string) => ({ type: 'boolean' as const, description });

// `positionals`: the command takes bare arguments (`token revoke NS/NAME`); the others refuse them.
const COMMANDS: Record<string, { summary: string; options: Options; positionals?: true; run: (v: Record<string, string | boolean | undefined>, positionals: string[]) => Promise<number> }> = {
  serve: {
    summary: 'run the control plane; reloads --config on change',
    options: {
      config: str('directory of YAML documents'),
      'state-dir': str('where the CA root and token key live (created if missing)'),
      'xds-address': str(`ADS gRPC listen address (default ${DEFAULT_XDS_ADDRESS})`),
      'admin-address': str(`admin HTTP listen address (default ${DEFAULT_ADMIN_ADDRESS})`),
      'csds-address': str(`CSDS gRPC listen address, plaintext: keep it on loopback (default ${DEFAULT_CSDS_ADDRESS})`),
      'insecure-xds': flag('plaintext, unauthenticated xDS: debugging only'),
      'log-level': str('trace|debug|info|warn|error (default info)'),
      'max-xds-streams': str(`xDS streams open at once, all proxies (default ${DEFAULT_XDS_LIMITS.maxStreams})`),
      'max-xds-streams-per-node': str(`xDS streams open at once per node.id (default ${DEFAULT_XDS_LIMITS.maxStreamsPerNode})`),
      'xds-request-rate': str(`requests per second per xDS stream, after a burst of ${DEFAULT_XDS_LIMITS.requestBurst} (default ${DEFAULT_XDS_LIMITS.requestsPerSecond})`),
      'max-xds-message-bytes': str(`largest xDS request accepted, in bytes (default ${DEFAULT_XDS_LIMITS.maxMessageBytes})`),
      plugin: { ...str('ES module whose default export is a TranslatorPlugin, an array of them or a factory (repeatable; run in order, after the Mesh spec.plugins)'), multiple: true },
    },
    // parseArgs gives a string[] for the repeatable --plugin.
    run: (v) => serveCommand(v, (v as { plugin?: string[] }).plugin),
  },
  validate: {
    summary: 'check a config directory; prints `file: path: message` lines, exit 1 on errors',
    options: { config: str('directory of YAML documents') },
    run: (v) => validateCommand(v),
  },
  bootstrap: {
    summary: 'print the Envoy bootstrap YAML for one workload',
    options: {
      config: str('directory of YAML documents'),
      'state-dir': str('the state dir of the control plane (same as serve)'),
      workload: str('NAMESPACE/NAME of a Workload with a sidecar (or proxyless, with --format grpc)'),
      'xds-address': str(`where the control plane serves ADS (default ${DEFAULT_XDS_ADDRESS})`),
      'admin-port': str('Envoy admin port on 127.0.0.1 (default 15000)'),
      output: str('write to this file (mode 0600) instead of stdout'),
      'insecure-xds': flag('plaintext xDS without token (must match serve --insecure-xds)'),
      delta: flag('incremental xDS (Delta ADS, api_type DELTA_GRPC) instead of State of the World'),
      format: str('envoy (default: Envoy bootstrap YAML) or grpc (proxyless gRPC xDS bootstrap JSON; needs --insecure-xds)'),
      'token-ttl': str('how long the xDS token lasts, a duration such as 720h (default 8760h, one year)'),
    },
    run: (v) => bootstrapCommand(v),
  },
  explain: {
    summary: 'would this call be allowed? the mTLS mode on the way and the policy and rule that decide',
    options: {
      config: str('directory of YAML documents'),
      from: str('the caller: NAMESPACE/NAME of a Workload, or plaintext@IP for a caller without a sidecar'),
      to: str('NAMESPACE/NAME:PORT, PORT the targetPort (as policies name it) or the port name'),
      method: str('HTTP method (default GET)'),
      path: str('HTTP path (default /)'),
      header: { ...str('NAME=VALUE request header (repeatable; host=... sets the authority)'), multiple: true },
      output: str('text|json'),
    },
    // parseArgs gives a string[] for the repeatable --header.
    run: (v) => explainCommand(v as ExplainArgs),
  },
  status: {
    summary: 'every connected proxy: versions sent and ACKed per type, last NACK, cert expiry',
    options: { 'admin-address': str(`the control plane admin address (default ${DEFAULT_ADMIN_ADDRESS})`), output: str('table|json') },
    run: (v) => statusCommand(v),
  },
  'advise strict': {
    summary: 'who would break if this went STRICT: the plaintext callers sidecars reported per inbound port; exit 0 safe, 3 not',
    options: {
      namespace: str('a namespace-wide STRICT PeerAuthentication (default: mesh-wide)'),
      workload: str('NAMESPACE/NAME: STRICT for that workload only'),
      since: str(`how far back to look, a duration (default 1h; reports are kept 7 days)`),
      'admin-address': str(`the control plane admin address (default ${DEFAULT_ADMIN_ADDRESS})`),
      output: str('text|json'),
    },
    run: (v) => adviseStrictCommand(v),
  },
  'ca rotate-root': {
    summary: 'start a root rotation: a new workload root, trusted everywhere before it signs, the old one dropped last',
    options: {
      'state-dir': str('the state dir of the control plane (same as serve)'),
      reissue: flag('move every workload to the new root at once, not as certificates rotate'),
      config: str('the config dir, for the root key algorithm and TTL of Mesh spec.ca (default ECDSA P-256, 10 years)'),
    },
    run: (v) => rotateRootCommand(v),
  },
  'ca status': {
    summary: 'the root rotation phase, the roots in the trust bundle and how many proxies are on each',
    options: { 'admin-address': str(`the control plane admin address (default ${DEFAULT_ADMIN_ADDRESS})`), output: str('table|json') },
    run: (v) => caStatusCommand(v),
  },
  'token revoke': {
    summary: 'NAMESPACE/NAME: refuse every xDS token of that workload issued until now; a running serve ends its streams',
    options: { 'state-dir': str('the state dir of the control plane (same as serve)') },
    positionals: true,
    run: (v, p) => tokenRevokeCommand(v, p),
  },
  'token list': {
    summary: 'the workloads whose xDS tokens were revoked, and until when',
    options: { 'state-dir': str('the state dir of the control plane (same as serve)'), output: str('table|json') },
    run: (v) => tokenListCommand(v),
  },
  demo: {
    summary: 'the local mesh: control plane, Envoys and sample apps from examples/, until Ctrl-C',
    options: {
      'state-dir': str('state dir (default .state/demo)'),
      'log-level': str('trace|debug|info|warn|error (default info)'),
      'keep-running': flag('ignored; the demo runs until Ctrl-C'),
    },
    run: (v) => demoCommand(v),
  },
};

function usage(): string {
  const lines = ['usage: meshplane <command> [options]', ''];
  for (const [name, c] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(15)} ${c.summary}`);
    for (const [opt, o] of Object.entries(c.options)) lines.push(`      --${opt.padEnd(16)} ${(o as { description?: string }).description ?? ''}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  // Two-word commands (`ca status`, `token revoke`, `advise strict`) are looked up as one name.
  const [first, ...more] = argv;
  const [name, rest] = (first === 'ca' || first === 'token' || first === 'advise') && more[0] && !more[0].startsWith('-') ? [`${first} ${more[0]}`, more.slice(1)] : [first, more];
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`meshplane: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: command.positionals === true });
    return await command.run(values as Record<string, string | boolean | undefined>, positionals);
  } catch (err) {
    if (err instanceof MeshplaneError) {
      for (const v of err.violations) console.error(formatViolation(v));
      console.error(`meshplane ${name}: ${err.message}`);
      return err.code === 'USAGE' ? 2 : 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`meshplane ${name}: ${err.message}\n\n${usage()}`);
      return 2;
    }
    // Anything else (a port in use, a file we cannot read): say what, without a stack trace.
    if (process.env.MESHPLANE_DEBUG) throw err;
    console.error(`meshplane ${name}: ${err instanceof Error ? err.message : String(err)} (MESHPLANE_DEBUG=1 shows the stack)`);
    return 1;
  }
}
