import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../config/atomic-write.js';
import { libtrustKeyId, selfSignedCert } from './x509.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PEM of the certificate other registries trust (distribution's auth.token.rootcertbundle). */
  certPem: string;
  /** JWT `kid`: the libtrust id distribution 2.x looks the key up by. */
  kid: string;
  keyPath: string;
  certPath: string;
}

/**
 * Loads the token-signing key and its certificate, or creates both (ES256 / P-256, certificate
 * valid 10 years) on first start. The key file is written 0600 before any byte of key goes in.
 */
export async function loadOrCreateSigningKey(keyPath: string, certPath: string, log?: { info(o: object, m: string): void }): Promise<SigningKey> {
  let keyPem = await fsp.readFile(keyPath, 'utf8').catch(() => undefined);
  let certPem = await fsp.readFile(certPath, 'utf8').catch(() => undefined);
  if (!keyPem) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await fsp.mkdir(dirname(keyPath), { recursive: true, mode: 0o700 });
    await writeFileAtomic(keyPath, keyPem, { mode: 0o600 });
    certPem = undefined; // a new key needs a new certificate
    log?.info({ key: keyPath }, 'generated a token-signing key');
  }
  const privateKey = createPrivateKey(keyPem);
  const publicKey = createPublicKey(privateKey);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`token-signing key ${keyPath} must be an EC P-256 key (ES256)`);
  }
  if (!certPem || !sameKey(certPem, publicKey)) {
    certPem = selfSignedCert({ commonName: 'regway token signer', organization: 'regway', days: 3650, privateKey, publicKey });
    await fsp.mkdir(dirname(certPath), { recursive: true });
    await writeFileAtomic(certPath, certPem, { mode: 0o644 });
    log?.info({ cert: certPath }, 'wrote the token-signing certificate (give it to registries that trust regway tokens)');
  }
  return { privateKey, publicKey, certPem, kid: libtrustKeyId(publicKey), keyPath, certPath };
}

function sameKey(certPem: string, publicKey: KeyObject): boolean {
  try { return new X509Certificate(certPem).publicKey.equals(publicKey); } catch { return false; }
}
