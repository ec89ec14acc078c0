/**
 * The few DER (X.690) encodings a leaf certificate needs, written out by hand, and a minimal
 * reader. leaf-builder.ts uses them instead of @peculiar/x509's schema-driven ASN.1 machinery,
 * which cost ~3 ms of JavaScript per leaf; these take microseconds.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A tag-length-value element. `content` parts are concatenated. */
export function derTlv(tag: number, ...content: Uint8Array[]): Buffer {
  let length = 0;
  for (const part of content) length += part.length;
  return Buffer.concat([Buffer.from([tag]), derLength(length), ...content]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

export const derSequence = (...content: Uint8Array[]): Buffer => derTlv(TAG.SEQUENCE, ...content);

/** A context-specific tag: [n] constructed (EXPLICIT, or IMPLICIT of a constructed type) or primitive. */
export const contextTag = (n: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | n;

/** A non-negative INTEGER from big-endian hex, minimally encoded (a 00 pad when the top bit is set). */
export function derUnsignedInteger(hex: string): Buffer {
  let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && !(bytes[start + 1]! & 0x80)) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  return derTlv(TAG.INTEGER, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function derTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const utc = date.getUTCFullYear() < 2050;
  return derTlv(utc ? TAG.UTC_TIME : TAG.GENERALIZED_TIME, Buffer.from(utc ? digits.slice(2) : digits, 'latin1'));
}

/** BIT STRING with no unused bits. */
export const derBitString = (bytes: Uint8Array): Buffer => derTlv(TAG.BIT_STRING, Buffer.from([0]), bytes);

/** The 4 or 16 bytes of an IP address (RFC 5280 iPAddress), IPv6 with `::` and embedded IPv4. */
export function ipAddressBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`"${ip}" is not an IP address`);
  let text = ip.replace(/%.*$/, ''); // a zone id is not part of the address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export interface DerElement {
  tag: number;
  /** Offsets into the buffer read: the whole element, and its content. */
  start: number;
  contentStart: number;
  end: number;
}

/** The element at `offset` (definite lengths only, as DER requires). */
export function readDer(buf: Uint8Array, offset = 0): DerElement {
  const tag = buf[offset]!;
  let pos = offset + 1;
  let length = buf[pos++]!;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error(`unsupported DER length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > buf.length) throw new Error(`DER element at offset ${offset} overruns its buffer`);
  return { tag, start: offset, contentStart: pos, end };
}

/** The child elements of a constructed element. */
export function readDerChildren(buf: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let pos = parent.contentStart; pos < parent.end; ) {
    const child = readDer(buf, pos);
    children.push(child);
    pos = child.end;
  }
  return children;
}
