/**
 * What must never show up in anything meshplane prints or serves, and the search for it. A leak is
 * reported by the secret's name and where it was found, never by its value: a failing test must
 * not print the secret into CI logs either.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Needle {
  /** Which secret, e.g. `state dir ca/root-key.pem line 2`. */
  name: string;
  text?: string;
  bytes?: Buffer;
}

/** Any PEM private key marker, and any PEM block that is not a certificate. */
const GENERIC: { name: string; re: RegExp }[] = [
  { name: "the PEM marker 'PRIVATE KEY'", re: /PRIVATE KEY/ },
  { name: 'a PEM block other than CERTIFICATE', re: /-----BEGIN (?!CERTIFICATE-----)[A-Z0-9 ]+-----/ },
];

/** Each base64 line of a PEM key (a leak of any part of the body), and its DER bytes (binary output). */
export function pemKeyNeedles(name: string, pem: string): Needle[] {
  const body = pem.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, '').split(/\s+/).filter((l) => l.length >= 16);
  if (body.length === 0) throw new Error(`${name}: no PEM body found`);
  return [
    ...body.map((line, i) => ({ name: `${name} line ${i + 1}`, text: line })),
    { name: `${name} (DER)`, bytes: Buffer.from(body.join(''), 'base64') },
  ];
}

/** A secret string (token, hex key), and its binary form when it is hex. */
export function secretNeedles(name: string, secret: string): Needle[] {
  const text = secret.trim();
  if (text.length < 16) throw new Error(`${name}: too short to search for`);
  const hex = /^[0-9a-f]+$/i.test(text) ? [{ name: `${name} (bytes)`, bytes: Buffer.from(text, 'hex') }] : [];
  // A token's MAC alone is a leak too (`mp2.<claims>.<mac>`).
  const parts = text.split('.').filter((p) => p.length >= 20 && p !== text).map((p, i) => ({ name: `${name} part ${i + 1}`, text: p }));
  return [{ name, text }, ...hex, ...parts];
}

/** Every key file under the state dir (`*key*`), as needles. */
export function stateDirNeedles(stateDir: string): Needle[] {
  return walk(stateDir)
    .filter((f) => f.isFile && /key/i.test(f.rel.split('/').pop()!))
    .flatMap((f) => {
      const text = readFileSync(join(stateDir, f.rel), 'utf8');
      return text.includes('-----BEGIN') ? pemKeyNeedles(`state dir ${f.rel}`, text) : secretNeedles(`state dir ${f.rel}`, text);
    });
}

/** `source: what` for every needle (and generic marker) found in `data`. */
export function findLeaks(source: string, data: string | Buffer, needles: readonly Needle[]): string[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const found = GENERIC.filter((g) => g.re.test(text)).map((g) => g.name);
  for (const n of needles) {
    if ((n.text !== undefined && text.includes(n.text)) || (n.bytes !== undefined && bytes.includes(n.bytes))) found.push(n.name);
  }
  return found.map((what) => `${source}: ${what}`);
}

export interface TreeEntry {
  rel: string;
  isFile: boolean;
  mode: number;
}

/** Every directory and file under `root` (root itself as `.`), symlinks followed. */
export function walk(root: string, dir = root, out: TreeEntry[] = []): TreeEntry[] {
  const st = statSync(dir);
  out.push({ rel: relative(root, dir) || '.', isFile: false, mode: st.mode & 0o7777 });
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const s = statSync(path);
    if (s.isDirectory()) walk(root, path, out);
    else out.push({ rel: relative(root, path), isFile: true, mode: s.mode & 0o7777 });
  }
  return out;
}
