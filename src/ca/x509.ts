/**
 * The one entry point to `@peculiar/x509` in meshplane: it loads the Reflect polyfill the
 * library needs first, and wires it to node's native WebCrypto. Import `x509` and
 * `subtle` from here, never `@peculiar/x509` directly (a type-only import is fine).
 */
// tsyringe, under @peculiar/x509, throws at load time without a Reflect metadata polyfill.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's webcrypto is structurally the DOM Crypto; the cast only bridges the two type declarations.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** Node's native SubtleCrypto (key generation, signing, PKCS#8/SPKI import and export). */
export const subtle = webcrypto.subtle;

export { x509 };
