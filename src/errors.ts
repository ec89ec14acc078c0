/**
 * The one error class of meshplane, with a closed set of codes. Messages say what was wrong,
 * where, and what to do; callers branch on `code`, never on the text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID' // the YAML model failed validation; `violations` lists every problem
  | 'CONFIG_UNREADABLE' // a config file or directory could not be read
  | 'STATE_INVALID' // the state dir (CA material, token key) is corrupt or mismatched
  | 'CA_FAILED' // certificate issuance failed
  | 'XDS_UNAUTHENTICATED' // an xDS stream's token does not match its node.id
  | 'PLUGIN_FAILED'
  | 'USAGE'; // bad command-line arguments

/** One problem in the user's configuration: `file: path: message`. */
export interface Violation {
  file: string;
  /** Field path inside the document, e.g. `spec.portLevelMtls[8080].mode`. Empty for the whole file. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export class MeshplaneError extends Error {
  override readonly name = 'MeshplaneError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly violations: readonly Violation[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static from(err: unknown, code: ErrorCode = 'CA_FAILED'): MeshplaneError {
    if (err instanceof MeshplaneError) return err;
    return new MeshplaneError(code, err instanceof Error ? err.message : String(err), [], { cause: err });
  }
}

export function formatViolation(v: Violation): string {
  const where = v.path ? `${v.file}: ${v.path}` : v.file;
  return `${where}: ${v.severity === 'warning' ? 'warning: ' : ''}${v.message}`;
}
