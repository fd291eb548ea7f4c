import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// A minimal DER writer for self-signed X.509 v3 certificates. Node can parse certificates but
// not create them, and shelling out to openssl at first start would make it a runtime dependency.
// Only what regway needs: ECDSA P-256 keys, a CN, SANs, CA/leaf usage.

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bitString = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

function integer(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1);
  if (v[0]! >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack: number[] = [p & 0x7f];
    for (let v = p >>> 7; v > 0; v >>>= 7) stack.unshift(0x80 | (v & 0x7f));
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2', cn: '2.5.4.3', org: '2.5.4.10',
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', san: '2.5.29.17', ski: '2.5.29.14',
  serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2',
};

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.concat(groups.map((g) => { const b = Buffer.alloc(2); b.writeUInt16BE(parseInt(g, 16)); return b; }));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

interface CertOptions {
  commonName: string;
  organization?: string;
  /** DNS names and IP addresses for subjectAltName (TLS clients match only these). */
  altNames?: string[];
  days: number;
  /** The key's public half goes in the certificate; it also signs it (self-signed). */
  privateKey: KeyObject;
  publicKey: KeyObject;
  now?: Date;
}

/**
 * A self-signed certificate, PEM. It is its own trust anchor (CA:true, keyCertSign) and a server
 * certificate (serverAuth, digitalSignature), which is what a lab TLS setup and a token-signing
 * bundle (distribution's rootcertbundle) both need. Valid from one hour ago, for clock skew.
 */
export function selfSignedCert(o: CertOptions): string {
  if (o.publicKey.asymmetricKeyType !== 'ec') throw new Error('only EC (P-256) keys are supported');
  const spki = o.publicKey.export({ type: 'spki', format: 'der' });
  const now = o.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + o.days * 86_400_000);
  const name = seq(
    ...(o.organization ? [set(seq(oid(OID.org), utf8(o.organization)))] : []),
    set(seq(oid(OID.cn), utf8(o.commonName))),
  );
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const sans = (o.altNames ?? []).map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii'))));
  const exts = [
    extension(OID.basicConstraints, true, seq(bool(true))),
    // digitalSignature (bit 0) + keyCertSign (bit 5): 0b10000100, 2 unused bits.
    extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x02, 0x84]))),
    extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))),
    extension(OID.ski, false, octets(createHash('sha1').update(spki).digest())),
    ...(sans.length ? [extension(OID.san, false, seq(...sans))] : []),
  ];
  const sigAlg = seq(oid(OID.ecdsaSha256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    sigAlg,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, o.privateKey);
  const der = seq(tbs, sigAlg, bitString(signature));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * The key id distribution 2.x (libtrust) derives from a public key, and looks a JWT's `kid` up by
 * among the keys of its rootcertbundle: base32 of the first 240 bits of sha256(SPKI DER), in
 * colon-separated groups of four.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(spki).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) { out += alphabet[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  return out.match(/.{4}/g)!.join(':');
}
