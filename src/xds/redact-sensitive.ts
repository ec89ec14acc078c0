/**
 * Removes secrets from encoded resources before they leave the control plane for a debugging tool
 * (CSDS), like Envoy's config_dump: every field annotated `(udpa.annotations.sensitive)` is redacted,
 * in any resource type and inside nested `Any`s (a plugin could inline a key in a cluster's TLS
 * context). A `DataSource` (Secret `tls_certificate.private_key`, `pkcs12`, `password`, session ticket
 * keys, generic secrets) of any specifier becomes `{inline_string: '[redacted]'}`; a sensitive
 * string or bytes field becomes '[redacted]'; any other sensitive field is cleared.
 */
import protobuf from 'protobufjs';
import { envoyProtoRoot } from '../../protos/envoy-protos.ts';
import type { EncodedAny } from './resource-encoder.ts';
import { messageNameOf } from './type-urls.ts';

export const REDACTED = '[redacted]';

const SENSITIVE_OPTION = '(udpa.annotations.sensitive)';
const ANY = '.google.protobuf.Any';
const DATA_SOURCE = '.envoy.config.core.v3.DataSource';

/**
 * Redacted Anys keyed by the shared encoded bytes: one entry per resource version, freed with the
 * bytes when no snapshot holds that version any more. Resources with nothing to redact map to themselves.
 */
const redactedByBytes = new WeakMap<Buffer, EncodedAny>();
/** Per message type: can it (transitively) hold a sensitive field or an Any? If not, it is never decoded. */
const mayHoldSecrets = new Map<protobuf.Type, boolean>();
const typesByUrl = new Map<string, protobuf.Type | null>();
let redactions = 0;

/** `any` without its sensitive fields: the same object when there is nothing to redact. Cached per bytes. */
export function redactSensitive(any: EncodedAny): EncodedAny {
  const cached = redactedByBytes.get(any.value);
  if (cached) return cached;
  const message = { type_url: any.type_url, value: any.value };
  const result = redactAnyMessage(message) ? { type_url: any.type_url, value: Buffer.from(message.value) } : any;
  redactedByBytes.set(any.value, result);
  return result;
}

/** How many resources were decoded and re-encoded with fields redacted, since start (for tests). */
export function redactionCount(): number {
  return redactions;
}

/** Redacts inside an Any in place (its `value` is replaced); true if anything changed. */
function redactAnyMessage(any: { type_url: string; value: Uint8Array }): boolean {
  const type = typeOfUrl(any.type_url);
  // Unknown types cannot be inspected; ResourceEncoder refuses to encode them, so none reach here.
  if (!type || !holdsSecrets(type)) return false;
  const decoded = type.decode(any.value) as unknown as Record<string, unknown>;
  if (!redactMessage(type, decoded)) return false;
  any.value = type.encode(decoded).finish();
  redactions++;
  return true;
}

function redactMessage(type: protobuf.Type, message: Record<string, unknown>): boolean {
  if (type.fullName === ANY) return redactAnyMessage(message as { type_url: string; value: Uint8Array });
  let changed = false;
  for (const field of type.fieldsArray) {
    // Decoded messages own only the fields present on the wire; the rest are prototype defaults.
    if (!Object.prototype.hasOwnProperty.call(message, field.name) || message[field.name] == null) continue;
    const value = message[field.name];
    if (field.options?.[SENSITIVE_OPTION] === true) {
      const redacted = redactedValue(field, value);
      if (redacted === undefined) delete message[field.name];
      else message[field.name] = redacted;
      changed = true;
      continue;
    }
    const nested = field.resolvedType;
    if (!(nested instanceof protobuf.Type) || !holdsSecrets(nested)) continue;
    const items = field.map ? Object.values(value as object) : field.repeated ? (value as unknown[]) : [value];
    for (const item of items) changed = redactMessage(nested, item as Record<string, unknown>) || changed;
  }
  return changed;
}

function redactedValue(field: protobuf.Field, value: unknown): unknown {
  const one = (): unknown => {
    if (field.resolvedType?.fullName === DATA_SOURCE) return { inline_string: REDACTED };
    if (field.type === 'string') return REDACTED;
    if (field.type === 'bytes') return Buffer.from(REDACTED);
    return undefined;
  };
  if (field.map) return undefined;
  if (field.repeated) {
    const first = one();
    return first === undefined ? undefined : (value as unknown[]).map(() => one());
  }
  return one();
}

function holdsSecrets(root: protobuf.Type): boolean {
  let known = mayHoldSecrets.get(root);
  if (known !== undefined) return known;
  // Walk every reachable type once (the graph has cycles: Struct, matchers, ...).
  const seen = new Set<protobuf.Type>([root]);
  const queue = [root];
  known = false;
  for (let type = queue.pop(); type && !known; type = queue.pop()) {
    if (type.fullName === ANY) known = true;
    for (const field of type.fieldsArray) {
      if (field.options?.[SENSITIVE_OPTION] === true) known = true;
      const nested = field.resolvedType;
      if (nested instanceof protobuf.Type && !seen.has(nested)) {
        seen.add(nested);
        queue.push(nested);
      }
    }
  }
  mayHoldSecrets.set(root, known);
  return known;
}

function typeOfUrl(typeUrl: string): protobuf.Type | undefined {
  let type = typesByUrl.get(typeUrl);
  if (type === undefined) {
    try {
      type = envoyProtoRoot().lookupType(messageNameOf(typeUrl));
    } catch {
      type = null;
    }
    typesByUrl.set(typeUrl, type);
  }
  return type ?? undefined;
}
