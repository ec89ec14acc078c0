/**
 * The mesh root CA: created once in `<stateDir>/ca/`, reused on every start. A damaged or
 * mismatched state dir is a startup error, never a silent new root — a new root would make every
 * running proxy distrust every new certificate.
 */
import { createHash, createPrivateKey, randomBytes, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MeshplaneError } from '../errors.ts';
import type { KeyAlgorithm } from '../model/types.ts';
import { generateKeyPair, KEY_ALGORITHMS, keyAlgorithmOf, pemBlock, privateKeyPem, randomSerialHex } from './key-algorithms.ts';
import { checkDirNotWritableByOthers, errorText, exists, fsyncPath, io, makeStateDir, stateError, statOrUndefined, writeNewFile } from './state-files.ts';
import { subtle, x509 } from './x509.ts';

export const CA_DIR = 'ca';
export const ROOT_CERT_FILE = 'root-cert.pem';
export const ROOT_KEY_FILE = 'root-key.pem';

/**
 * A certificate authority that signs leaves: a self-made root (the state dir's), or an
 * intermediate provided by the operator (Mesh.spec.ca.intermediate). `ca*` is the signer.
 */
export interface Authority {
  /** Of the signing key. An existing root keeps its algorithm even if the mesh now asks for another. */
  keyAlgorithm: KeyAlgorithm;
  /** The signing CA's certificate, PEM. */
  caCertPem: string;
  caCert: x509.X509Certificate;
  /** The private key signs; the public key comes from the certificate. */
  caKeys: CryptoKeyPair;
  /** The signing key as PKCS#8 PEM, for issuers in worker threads. Never logged or served. */
  caKeyPem: string;
  /** PEM appended to every leaf: '' for a root, the intermediate (and any above it) otherwise. */
  chainPem: string;
  /** PEM of every root trusted: the bundle peers verify leaves against. */
  trustBundlePem: string;
  /** sha256 hex of the DER of the root the signer chains to, for status/logs/tests. */
  rootFingerprint: string;
}

export interface AuthorityOptions {
  /** Used only when a new root is created. */
  keyAlgorithm: KeyAlgorithm;
  rootCertTtlSeconds: number;
  /** Named in the root's CN only; the root itself is not bound to it. */
  trustDomain: string;
  now?: Date;
}

const REPLACE_HINT = 'this changes the root of trust: every proxy needs the new root and new certificates';

/**
 * Loads the root from `<stateDir>/ca/`, or creates it there if the directory does not exist.
 * Throws MeshplaneError STATE_INVALID, naming the file, when the stored material is unusable.
 */
export function loadOrCreateAuthority(
  stateDir: string,
  opts: AuthorityOptions,
  populate?: (dir: string) => Promise<void>,
): Promise<{ authority: Authority; created: boolean }> {
  return loadOrCreateRootDir(join(stateDir, CA_DIR), opts, populate);
}

/**
 * A self-made root in `caDir` (`root-cert.pem`, `root-key.pem`), loaded or created. Safe against
 * another process creating it at the same time: the files are written to a temp directory and
 * renamed into place as a whole, and the loser of the race loads the winner's root. `populate`
 * adds more files to the temp directory first, so they appear with the root or not at all.
 */
export async function loadOrCreateRootDir(
  caDir: string,
  opts: AuthorityOptions,
  populate?: (dir: string) => Promise<void>,
): Promise<{ authority: Authority; created: boolean }> {
  const now = opts.now ?? new Date();
  const stateDir = dirname(caDir);
  if (await exists(caDir)) return { authority: await loadAuthority(caDir, now), created: false };

  if (!(opts.rootCertTtlSeconds > 0)) {
    throw new MeshplaneError('CA_FAILED', `rootCertTtlSeconds must be positive, got ${opts.rootCertTtlSeconds}`);
  }
  await io(stateDir, 'create the state directory', () => makeStateDir(stateDir));
  const { certPem, keyPem } = await createRoot(opts, now);

  // mkdtemp makes the directory 0700, which is what ca/ must be once renamed.
  const tmp = await io(stateDir, 'create a temporary directory in', () => mkdtemp(join(stateDir, `.${basename(caDir)}-new-`)));
  try {
    // Named after caDir, not the temp dir: the temp dir is gone by the time anyone reads the error.
    await io(caDir, 'write the new root CA files of', async () => {
      await writeNewFile(join(tmp, ROOT_KEY_FILE), keyPem);
      await writeNewFile(join(tmp, ROOT_CERT_FILE), certPem);
      await populate?.(tmp);
      await fsyncPath(tmp);
    });
    try {
      // rename(2) will not replace a non-empty directory: exactly one racer wins.
      await rename(tmp, caDir);
    } catch (err) {
      if (!(await exists(caDir))) throw stateError(caDir, `could not be created: ${errorText(err)}`, err);
      return { authority: await loadAuthority(caDir, now), created: false };
    }
    await fsyncPath(stateDir).catch(() => undefined); // durability of the rename; best effort
    return { authority: await loadAuthority(caDir, now), created: true };
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A new self-signed root as PEM text (certificate, PKCS#8 key). */
async function createRoot(opts: AuthorityOptions, now: Date): Promise<{ certPem: string; keyPem: string }> {
  try {
    const keys = await generateKeyPair(opts.keyAlgorithm);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialHex(),
      name: [{ O: ['meshplane'] }, { CN: [`meshplane root CA ${opts.trustDomain}`] }],
      // Backdated so a peer whose clock is slightly behind still accepts it.
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + opts.rootCertTtlSeconds * 1000),
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { certPem: pemBlock(cert.rawData, 'CERTIFICATE'), keyPem: await privateKeyPem(keys.privateKey) };
  } catch (err) {
    throw new MeshplaneError('CA_FAILED', `creating the ${opts.keyAlgorithm} root CA failed: ${errorText(err)}`, [], { cause: err });
  }
}

/** Reads and checks an existing root directory: both files, key mode, parse, CA-ness, expiry, key match. Never creates. */
export async function loadAuthority(caDir: string, now: Date): Promise<Authority> {
  const certPath = join(caDir, ROOT_CERT_FILE);
  const keyPath = join(caDir, ROOT_KEY_FILE);
  const [certStat, keyStat] = await Promise.all([statOrUndefined(certPath), statOrUndefined(keyPath)]);
  const replace = `move ${caDir} away to create a new CA — ${REPLACE_HINT}`;
  if (!certStat && !keyStat) {
    throw stateError(caDir, `exists but holds neither ${ROOT_CERT_FILE} nor ${ROOT_KEY_FILE}; restore them, or remove the directory to create a new CA — ${REPLACE_HINT}`);
  }
  if (!certStat) throw stateError(certPath, `is missing while ${keyPath} exists; restore the file or ${replace}`);
  if (!keyStat) throw stateError(keyPath, `is missing while ${certPath} exists; restore the file or ${replace}`);
  if (process.platform !== 'win32' && (keyStat.mode & 0o077) !== 0) {
    throw stateError(keyPath, `is readable or writable by others (mode ${(keyStat.mode & 0o777).toString(8).padStart(4, '0')}); it holds the root private key: run \`chmod 600 ${keyPath}\``);
  }
  // And the directories it sits in: ca/ and the state dir (a workload root: its dir and ca/workload-roots/).
  for (const dir of [dirname(caDir), caDir]) await checkDirNotWritableByOthers(dir);

  const certText = await io(certPath, 'read', () => readFile(certPath, 'utf8'));
  const blocks = certText.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1) {
    throw stateError(certPath, `must hold exactly one PEM certificate, found ${blocks.length}; restore the file or ${replace}`);
  }
  let nodeCert: NodeX509;
  let caCert: x509.X509Certificate;
  try {
    nodeCert = new NodeX509(blocks[0]!);
    caCert = new x509.X509Certificate(blocks[0]!);
  } catch (err) {
    throw stateError(certPath, `is not a valid PEM certificate (${errorText(err)}); restore the file or ${replace}`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(await io(keyPath, 'read', () => readFile(keyPath, 'utf8')));
  } catch (err) {
    if (err instanceof MeshplaneError) throw err;
    throw stateError(keyPath, `is not a valid unencrypted PEM private key (${errorText(err)}); restore the file or ${replace}`, err);
  }

  const keyAlgorithm = keyAlgorithmOf(privateKey);
  if (!keyAlgorithm) {
    throw stateError(keyPath, `holds a ${privateKey.asymmetricKeyType} key meshplane does not support (ECDSA P-256 or RSA 2048 only); ${replace}`);
  }
  const basic = caCert.getExtension(x509.BasicConstraintsExtension);
  const usage = caCert.getExtension(x509.KeyUsagesExtension);
  if (!basic?.ca || (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign))) {
    throw stateError(certPath, `is not a CA certificate (needs basicConstraints CA:true and keyUsage keyCertSign); restore the file or ${replace}`);
  }
  if (!nodeCert.checkIssued(nodeCert) || !nodeCert.verify(nodeCert.publicKey)) {
    throw stateError(certPath, `is not a self-signed root; restore the file or ${replace}`);
  }
  if (now.getTime() >= caCert.notAfter.getTime()) {
    throw stateError(certPath, `expired at ${caCert.notAfter.toISOString()}; ${replace}`);
  }

  const params = KEY_ALGORITHMS[keyAlgorithm];
  let caKeys: CryptoKeyPair;
  try {
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    const spki = nodeCert.publicKey.export({ type: 'spki', format: 'der' });
    caKeys = {
      privateKey: await subtle.importKey('pkcs8', der, params.import, false, ['sign']),
      publicKey: await subtle.importKey('spki', spki, params.import, true, ['verify']),
    };
    // A signed probe is the only check that covers every key type the same way.
    const probe = randomBytes(32);
    const signature = await subtle.sign(params.sign, caKeys.privateKey, probe);
    if (!(await subtle.verify(params.sign, caKeys.publicKey, signature, probe))) throw new Error('probe signature does not verify');
  } catch (err) {
    throw stateError(keyPath, `does not match the certificate ${certPath} (${errorText(err)}); restore the matching pair or ${replace}`, err);
  }

  const caCertPem = pemBlock(caCert.rawData, 'CERTIFICATE');
  return {
    keyAlgorithm,
    caCertPem,
    caCert,
    caKeys,
    caKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    chainPem: '',
    trustBundlePem: caCertPem,
    rootFingerprint: createHash('sha256').update(nodeCert.raw).digest('hex'),
  };
}
