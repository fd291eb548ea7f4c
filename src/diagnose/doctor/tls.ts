// Stage 3: the TLS handshake, done by hand so every property can be reported: version, ALPN (h2), the chain, whether
// it verifies against the system store plus --ca-file, the host name, and days to expiry. Verification is evaluated
// here, never by rejecting the handshake, so one run reports every certificate problem at once.
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { trustedCas, type DoctorContext } from './context.js';
import { hostOf } from './dns.js';
import { finding } from './findings.js';
import { endpointPort } from '../common/target.js';
import type { Finding } from './types.js';

const DAY = 86_400_000;
const EXPIRY_WARN_DAYS = 14;

interface TlsFacts {
  protocol: string | null;
  alpn: string | false | null;
  authorized: boolean;
  authorizationError?: string;
  hostError?: string;
  subject: string;
  issuer: string;
  san: string;
  validFrom: string;
  validTo: string;
  daysLeft: number;
  chain: string[];
  selfSigned: boolean;
}

function cn(x: Record<string, unknown> | undefined): string {
  if (!x) return '';
  return String(x['CN'] ?? x['O'] ?? JSON.stringify(x));
}

function chainOf(cert: DetailedPeerCertificate): string[] {
  const out: string[] = [];
  let c: DetailedPeerCertificate | undefined = cert;
  for (let i = 0; c && i < 10; i++) {
    out.push(cn(c.subject as unknown as Record<string, unknown>));
    if (!c.issuerCertificate || c.issuerCertificate === c || c.issuerCertificate.fingerprint256 === c.fingerprint256) break;
    c = c.issuerCertificate;
  }
  return out;
}

/** Handshake with ALPN h2/http1.1 and no verification; returns what a verifying client would conclude. */
function tlsProbe(ctx: DoctorContext, now = Date.now()): Promise<TlsFacts> {
  const host = hostOf(ctx.target.endpoint);
  const ca = trustedCas(ctx);
  return new Promise((resolve, reject) => {
    const s: TLSSocket = connect({
      host: ctx.addresses[0] ?? host,
      port: endpointPort(ctx.target.endpoint),
      // SNI must be a name; an IP address there is invalid.
      ...(isIP(host) ? {} : { servername: host }),
      ALPNProtocols: ['h2', 'http/1.1'],
      rejectUnauthorized: false,
      ...(ca ? { ca } : {}),
    });
    s.setTimeout(ctx.opts.timeoutMs, () => s.destroy(Object.assign(new Error(`handshake not done within ${ctx.opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    s.once('error', reject);
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate(true);
      const idErr = cert && Object.keys(cert).length ? checkServerIdentity(host, cert) : new Error('no certificate');
      const validTo = cert.valid_to ?? '';
      const facts: TlsFacts = {
        protocol: s.getProtocol(),
        alpn: s.alpnProtocol,
        authorized: s.authorized,
        ...(s.authorizationError ? { authorizationError: String(s.authorizationError) } : {}),
        ...(idErr ? { hostError: idErr.message } : {}),
        subject: cn(cert.subject as unknown as Record<string, unknown>),
        issuer: cn(cert.issuer as unknown as Record<string, unknown>),
        san: cert.subjectaltname ?? '',
        validFrom: cert.valid_from ?? '',
        validTo,
        daysLeft: Math.floor((Date.parse(validTo) - now) / DAY),
        chain: chainOf(cert),
        selfSigned: cert.issuerCertificate === cert || cert.fingerprint256 === cert.issuerCertificate?.fingerprint256,
      };
      s.end();
      resolve(facts);
    });
  });
}

/** Turns handshake facts into findings. Pure. */
function tlsFindings(f: TlsFacts, host: string, insecure: boolean, ms: number): { findings: Finding[]; verified: boolean } {
  const out: Finding[] = [];
  const data = { ...f } as unknown as Record<string, unknown>;
  const problems: Finding[] = [];
  const err = f.authorizationError;
  const expiredNow = f.daysLeft < 0 || Date.parse(f.validFrom) > Date.now();
  if (err === 'DEPTH_ZERO_SELF_SIGNED_CERT' || (err && f.selfSigned)) problems.push(finding('TLS_SELF_SIGNED', 'tls', `the certificate for "${f.subject}" is self-signed (${err})`, { data }));
  else if (err && /ISSUER|LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNTRUSTED/.test(err))
    problems.push(finding('TLS_UNKNOWN_CA', 'tls', `chain ${f.chain.join(' <- ')} ends at a CA this node does not trust (${err})`, { data }));
  else if (err && !/EXPIRED|NOT_YET_VALID/.test(err)) problems.push(finding('TLS_UNKNOWN_CA', 'tls', `certificate does not verify: ${err}`, { data }));
  if (expiredNow) problems.push(finding('TLS_EXPIRED', 'tls', `valid ${f.validFrom} to ${f.validTo} (${f.daysLeft < 0 ? `expired ${-f.daysLeft} days ago` : 'not yet valid'})`, { data }));
  if (f.hostError) problems.push(finding('TLS_HOSTNAME_MISMATCH', 'tls', `${host} is not in the certificate (${f.san || `subject ${f.subject}`}): ${f.hostError}`, { data }));
  const verified = problems.length === 0;
  if (!verified && insecure) {
    out.push(finding('TLS_VERIFY_SKIPPED', 'tls', `accepted only because of --insecure: ${problems.map((p) => `${p.title} (${p.detail})`).join('; ')}`, { data, durationMs: ms }));
  } else {
    out.push(...problems);
  }
  if (verified) {
    out.push(finding('TLS_OK', 'tls', `${f.protocol}, ALPN ${f.alpn || 'none'}, certificate "${f.subject}" from "${f.issuer}", ${f.daysLeft} days left`, { durationMs: ms, data }));
    if (f.daysLeft >= 0 && f.daysLeft < EXPIRY_WARN_DAYS) out.push(finding('TLS_EXPIRING', 'tls', `expires ${f.validTo}, in ${f.daysLeft} days`, { data }));
  }
  if (f.alpn !== 'h2') out.push(finding('TLS_NO_H2', 'tls', `ALPN answer: ${f.alpn || 'none'}`, { data: { alpn: f.alpn } }));
  return { findings: out, verified };
}

export async function checkTls(ctx: DoctorContext): Promise<Finding[]> {
  if (ctx.scheme !== 'https') return [];
  const t0 = performance.now();
  try {
    const facts = await tlsProbe(ctx);
    const r = tlsFindings(facts, hostOf(ctx.target.endpoint), !!ctx.opts.insecure, performance.now() - t0);
    ctx.tlsVerified = r.verified;
    return r.findings;
  } catch (e) {
    // Reported by the scheme check, which finds out whether the port speaks plain HTTP instead.
    // OpenSSL messages are a wall of hex and source paths; the code (ERR_SSL_WRONG_VERSION_NUMBER) says it all.
    const msg = (e as Error).message.split('\n')[0]!;
    ctx.tlsFailedRaw = `${(e as NodeJS.ErrnoException).code ?? 'ERROR'}${/routines/.test(msg) ? '' : `: ${msg}`}`;
    return [];
  }
}
