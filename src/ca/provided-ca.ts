/**
 * "Bring your own CA" (Istio's plug-in CA): workload certificates signed by an intermediate the
 * operator provides (Mesh.spec.ca.intermediate) instead of the self-made root. Everything a peer
 * would later reject is checked here, at load, so a bad file is a config error naming the file,
 * not proxies whose handshakes fail. The signing key's own algorithm is used for the CA (the
 * mesh's keyAlgorithm chooses only the workload keys); the root's lifetime is the operator's.
 */
import { createHash, createPrivateKey, randomBytes, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MeshplaneError } from '../errors.ts';
import type { IntermediateCaFiles, KeyAlgorithm } from '../model/types.ts';
import type { Authority } from './authority.ts';
import { KEY_ALGORITHMS, keyAlgorithmOf, pemBlock } from './key-algorithms.ts';
import { errorText, isCode } from './state-files.ts';
import { subtle, x509 } from './x509.ts';

export interface ProvidedCaOptions {
  /** The config directory: relative paths in `files` are resolved against it. */
  baseDir: string;
  now?: Date;
}

/** One of the four files: the Mesh field that named it and where it resolved to. */
interface CaFile {
  field: keyof IntermediateCaFiles;
  path: string;
}

interface Cert {
  pem: string;
  node: NodeX509;
  cert: x509.X509Certificate;
  /** For messages: `certificate 2 (CN=...)` or `the certificate (CN=...)`. */
  label: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const HAS_CERT = /-----BEGIN CERTIFICATE-----/;
const HAS_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function fail(file: CaFile, message: string, cause?: unknown): MeshplaneError {
  const text = `${file.path} (spec.ca.intermediate.${file.field}) ${message}`;
  return new MeshplaneError('CONFIG_INVALID', text, [], cause === undefined ? undefined : { cause });
}

/**
 * Reads and checks the provided CA files and returns the Authority that signs with the
 * intermediate: its leaves carry certFile + chainFile, peers trust rootCertFile. Paths are resolved
 * against `opts.baseDir` (absolute paths as they are). Throws MeshplaneError CONFIG_INVALID,
 * naming the file and what to do.
 */
export async function loadProvidedCa(files: IntermediateCaFiles, opts: ProvidedCaOptions): Promise<Authority> {
  const now = opts.now ?? new Date();
  const at = (field: keyof IntermediateCaFiles, path: string): CaFile => ({ field, path: resolve(opts.baseDir, path) });
  const certFile = at('certFile', files.certFile);
  const keyFile = at('keyFile', files.keyFile);
  const rootFile = at('rootCertFile', files.rootCertFile);
  const chainFile = files.chainFile === undefined ? undefined : at('chainFile', files.chainFile);

  // One after another, so that with several bad files the same one is reported every time.
  const certText = await readCaFile(certFile, opts.baseDir);
  const keyText = await readCaFile(keyFile, opts.baseDir, true);
  const rootText = await readCaFile(rootFile, opts.baseDir);
  const chainText = chainFile ? await readCaFile(chainFile, opts.baseDir) : '';

  const certs = parseCerts(certFile, certText);
  if (certs.length !== 1) {
    throw fail(certFile, `must hold exactly one certificate (the intermediate CA that signs workload certificates), found ${certs.length}: put the intermediates above it in chainFile and the root(s) in rootCertFile`);
  }
  const signer = certs[0]!;
  checkCa(certFile, signer);
  if (isSelfSigned(signer)) {
    throw fail(certFile, 'is a self-signed root: meshplane signs with an intermediate so that the root key can stay offline; issue an intermediate CA from this root and set certFile/keyFile to it');
  }
  const roots = parseCerts(rootFile, rootText);
  for (const root of roots) {
    if (!isSelfSigned(root)) throw fail(rootFile, `holds ${root.label}, issued by ${oneLine(root.node.issuer)}, which is not a self-signed root: rootCertFile lists only the roots peers trust; move intermediates to chainFile`);
    checkCa(rootFile, root);
  }
  const chain = chainFile ? trimChain(chainFile, parseCerts(chainFile, chainText), signer, roots) : [];
  for (const c of chain) checkCa(chainFile!, c);

  const root = verifyPath(certFile, signer, chainFile, chain, rootFile, roots, now);
  const { privateKey, keyAlgorithm } = parsePrivateKey(keyFile, keyText);
  const caKeys = await matchingKeys(keyFile, certFile, privateKey, keyAlgorithm, signer.node);

  return {
    keyAlgorithm,
    caCertPem: signer.pem,
    caCert: signer.cert,
    caKeys,
    caKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    chainPem: [signer, ...chain].map((c) => c.pem).join(''),
    trustBundlePem: roots.map((r) => r.pem).join(''),
    rootFingerprint: createHash('sha256').update(root.node.raw).digest('hex'),
  };
}

async function readCaFile(file: CaFile, baseDir: string, secret = false): Promise<string> {
  try {
    const st = await stat(file.path);
    // Like the self-made root's key: a CA key others can read lets them mint any identity.
    if (secret && process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw fail(file, `is readable or writable by others (mode ${mode}); it holds the intermediate CA's private key: run \`chmod 600 ${file.path}\``);
    }
    return await readFile(file.path, 'utf8');
  } catch (err) {
    if (err instanceof MeshplaneError) throw err;
    const fix = isCode(err, 'ENOENT')
      ? `does not exist: check the path (relative paths are resolved against the config directory ${baseDir})`
      : `cannot be read (${errorText(err)}): make it a file readable by the user running meshplane`;
    throw fail(file, fix, err);
  }
}

function parseCerts(file: CaFile, text: string): Cert[] {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    const fix = HAS_KEY.test(text)
      ? 'holds a private key, not a certificate: did you swap certFile and keyFile?'
      : 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----"): if it is DER, convert it with `openssl x509 -inform der -in FILE -out FILE.pem`';
    throw fail(file, fix);
  }
  return blocks.map((block, i) => {
    try {
      const node = new NodeX509(block);
      const cert = new x509.X509Certificate(block);
      const label = `${blocks.length === 1 ? 'the certificate' : `certificate ${i + 1}`} (${oneLine(node.subject)})`;
      return { pem: pemBlock(cert.rawData, 'CERTIFICATE'), node, cert, label };
    } catch (err) {
      throw fail(file, `holds a PEM block that is not a valid certificate (block ${i + 1}: ${errorText(err)}): replace it with the PEM certificate`, err);
    }
  });
}

/** node prints a distinguished name one attribute a line. */
function oneLine(name: string): string {
  return name.replaceAll('\n', ', ');
}

function isSelfSigned(c: Cert): boolean {
  return c.node.checkIssued(c.node) && c.node.verify(c.node.publicKey);
}

function checkCa(file: CaFile, c: Cert): void {
  const basic = c.cert.getExtension(x509.BasicConstraintsExtension);
  const usage = c.cert.getExtension(x509.KeyUsagesExtension);
  if (!basic?.ca) throw fail(file, `holds ${c.label}, which is not a CA certificate (no basicConstraints CA:true): use the CA's certificate, not a leaf`);
  if (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign)) {
    throw fail(file, `holds ${c.label}, whose keyUsage lacks keyCertSign, so it may not sign certificates: reissue it with keyUsage keyCertSign`);
  }
}

/**
 * Istio's cert-chain.pem holds ca-cert.pem, the intermediates and the root; accept that layout by
 * dropping a leading copy of certFile and trailing roots that rootCertFile holds (leaves should
 * carry neither: the signer is prepended anyway, and peers have the root).
 */
function trimChain(file: CaFile, chain: Cert[], signer: Cert, roots: Cert[]): Cert[] {
  const same = (a: Cert, b: Cert): boolean => a.node.raw.equals(b.node.raw);
  const out = chain[0] && same(chain[0], signer) ? chain.slice(1) : [...chain];
  while (out.length > 0 && isSelfSigned(out[out.length - 1]!)) {
    const last = out.pop()!;
    if (!roots.some((r) => same(r, last))) {
      throw fail(file, `ends with ${last.label}, a self-signed root that rootCertFile does not hold: add it to rootCertFile if peers are to trust it, or remove it from chainFile`);
    }
  }
  return out;
}

/**
 * certFile <- chain[0] <- ... <- a root of rootCertFile: each link named and signed by the next,
 * every certificate valid now, pathLen constraints kept. Returns the root the path ends at.
 */
function verifyPath(certFile: CaFile, signer: Cert, chainFile: CaFile | undefined, chain: Cert[], rootFile: CaFile, roots: Cert[], now: Date): Cert {
  const path: Array<{ file: CaFile; c: Cert }> = [{ file: certFile, c: signer }, ...chain.map((c) => ({ file: chainFile!, c }))];
  for (let i = 0; i < path.length - 1; i++) {
    const child = path[i]!;
    const parent = path[i + 1]!;
    const named = child.c.node.issuer === parent.c.node.subject;
    if (!named) {
      throw fail(parent.file, `holds ${parent.c.label}, which did not issue ${child.c.label} from ${child.file.field} (its issuer is ${oneLine(child.c.node.issuer)}): list the intermediates in order, certFile's issuer first, up to the one the root signed, and nothing else`);
    }
    // Same name, other key (key identifiers or the signature disagree): a re-keyed or look-alike CA.
    if (!child.c.node.checkIssued(parent.c.node) || !child.c.node.verify(parent.c.node.publicKey)) {
      throw fail(parent.file, `holds ${parent.c.label}, which has the name of the issuer of ${child.c.label} from ${child.file.field} but not its key: use the certificates of one CA hierarchy (the same generation of each CA)`);
    }
  }
  const top = path[path.length - 1]!;
  const named = roots.filter((r) => top.c.node.issuer === r.node.subject);
  const root = named.find((r) => top.c.node.checkIssued(r.node) && top.c.node.verify(r.node.publicKey));
  if (!root) {
    const why = named.length > 0
      ? `holds a root with the name of the issuer of ${top.c.label} from ${top.file.field}, but not its key: put the root of this hierarchy (the same generation) in rootCertFile`
      : `holds no root that issued ${top.c.label} from ${top.file.field} (issuer ${oneLine(top.c.node.issuer)}): add that root to rootCertFile${chainFile ? '' : ', or, if an intermediate signed it, list that intermediate in chainFile'}`;
    throw fail(rootFile, why);
  }
  path.push({ file: rootFile, c: root });

  path.forEach(({ file, c }, depth) => {
    if (now < c.cert.notBefore) {
      throw fail(file, `holds ${c.label}, which is not valid until ${c.cert.notBefore.toISOString()}: check this machine's clock, or use a certificate valid now`);
    }
    if (now >= c.cert.notAfter) {
      throw fail(file, `holds ${c.label}, which expired at ${c.cert.notAfter.toISOString()}: renew it`);
    }
    // RFC 5280 pathLenConstraint: at most N CA certificates below this one (leaves do not count).
    const pathLength = c.cert.getExtension(x509.BasicConstraintsExtension)?.pathLength;
    if (pathLength !== undefined && depth > pathLength) {
      throw fail(file, `holds ${c.label}, whose pathLen ${pathLength} allows ${pathLength} CA certificate(s) below it, but this hierarchy has ${depth}: reissue it with a larger pathLen, or sign certFile with a CA closer to it`);
    }
  });
  return root;
}

function parsePrivateKey(file: CaFile, text: string): { privateKey: KeyObject; keyAlgorithm: KeyAlgorithm } {
  if (/ENCRYPTED/.test(text)) {
    throw fail(file, 'is encrypted; meshplane needs the key unencrypted (the file mode protects it): decrypt it with `openssl pkey -in FILE -out FILE.plain` and `chmod 600` the result');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch (err) {
    const swapped = HAS_CERT.test(text) && !HAS_KEY.test(text);
    const fix = swapped ? 'holds a certificate, not a private key: did you swap certFile and keyFile?' : `is not a valid PEM private key (${errorText(err)}): use the CA's unencrypted PEM key (PKCS#8, SEC1 or PKCS#1)`;
    throw fail(file, fix, err);
  }
  const keyAlgorithm = keyAlgorithmOf(privateKey);
  if (!keyAlgorithm) {
    const detail = privateKey.asymmetricKeyDetails;
    const what = `${privateKey.asymmetricKeyType}${detail?.namedCurve ? ` ${detail.namedCurve}` : ''}${detail?.modulusLength ? ` ${detail.modulusLength}-bit` : ''}`;
    throw fail(file, `holds a ${what} key; meshplane signs with ECDSA P-256 or RSA 2048 only: issue the intermediate with one of those`);
  }
  return { privateKey, keyAlgorithm };
}

/** WebCrypto keys for signing, proven to be certFile's pair by a signed probe (as for the root). */
async function matchingKeys(keyFile: CaFile, certFile: CaFile, privateKey: KeyObject, alg: KeyAlgorithm, cert: NodeX509): Promise<CryptoKeyPair> {
  const params = KEY_ALGORITHMS[alg];
  try {
    const caKeys: CryptoKeyPair = {
      privateKey: await subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), params.import, false, ['sign']),
      publicKey: await subtle.importKey('spki', cert.publicKey.export({ type: 'spki', format: 'der' }), params.import, true, ['verify']),
    };
    const probe = randomBytes(32);
    const signature = await subtle.sign(params.sign, caKeys.privateKey, probe);
    if (!(await subtle.verify(params.sign, caKeys.publicKey, signature, probe))) throw new Error('a probe signed with the key does not verify with the certificate');
    return caKeys;
  } catch (err) {
    throw fail(keyFile, `is not the private key of ${certFile.path} (${errorText(err)}): use the key the intermediate certificate was issued for`, err);
  }
}
