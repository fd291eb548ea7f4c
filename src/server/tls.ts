import { readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import type { Server as SecureServer } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';

/**
 * TLS 1.2 suites offered: AEAD only (no CBC); TLS 1.3 suites are all AEAD. Forward secrecy
 * (ECDHE) throughout. The same list Mozilla's "intermediate" profile keeps.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Server options: TLS (HTTP/2 via ALPN with HTTP/1.1 fallback) and timeouts (trusted proxies: app.ts). */
export function serverOptions(config: Config): Record<string, unknown> {
  const l = config.limits;
  const headersTimeout = l.requestTimeout > 0 ? Math.min(l.headersTimeout, l.requestTimeout) : l.headersTimeout;
  // Node checks header/request deadlines on this interval (30 s by default): keep it well under
  // the headers timeout, or a slowloris client gets up to 30 s extra.
  const node = { headersTimeout, requestTimeout: l.requestTimeout, connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(headersTimeout / 4))) };
  const base: Record<string, unknown> = {
    connectionTimeout: l.idleTimeout,
    keepAliveTimeout: l.keepAliveTimeout,
    requestTimeout: l.requestTimeout,
    http2SessionTimeout: l.idleTimeout,
  };
  if (!config.tls) return { ...base, http: node };
  const tls = { ...readTlsFiles(config.tls), minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true };
  // One client held 80,000 streams on one connection without a limit: advertise one (distribution: 250).
  const h2 = { settings: { maxConcurrentStreams: l.http2MaxStreams }, maxSessionMemory: 32 };
  if (config.tls.http2) return { ...base, http2: true, https: { ...tls, ...h2, allowHTTP1: true } };
  return { ...base, https: { ...tls, ...node } };
}

/** The certificate and key as the server will use them. */
export function readTlsFiles(t: NonNullable<Config['tls']>): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(t.cert), key: readFileSync(t.key) };
}

/** Problems with the certificate and key an operator should hear about at start (and at reload). */
export function tlsWarnings(t: NonNullable<Config['tls']>, now = Date.now()): string[] {
  const out: string[] = [];
  try {
    const cert = new X509Certificate(readFileSync(t.cert));
    const until = Date.parse(cert.validTo);
    if (until < now) out.push(`the TLS certificate ${t.cert} expired on ${cert.validTo}: clients will refuse it; replace it and reload`);
    else if (until - now < 14 * 86_400_000) out.push(`the TLS certificate ${t.cert} expires on ${cert.validTo}: replace it and reload`);
    if (Date.parse(cert.validFrom) > now) out.push(`the TLS certificate ${t.cert} is not valid before ${cert.validFrom}`);
  } catch (e) {
    out.push(`the TLS certificate ${t.cert} cannot be read as a certificate: ${(e as Error).message}`);
  }
  try {
    if ((statSync(t.key).mode & 0o077) !== 0) out.push(`the TLS key ${t.key} is readable by other users (mode ${(statSync(t.key).mode & 0o777).toString(8)}): chmod 600 it`);
  } catch { /* readTlsFiles reports a missing key */ }
  return out;
}

/**
 * Plain HTTP sent to the TLS port got a silent close. The first byte of a connection tells: a TLS
 * handshake starts with 0x16; anything else gets a 400 that says to use https. Connections that
 * send nothing are closed after the headers timeout (the TLS layer's own timeout has not started).
 */
export function answerPlainHttpOnTlsPort(server: Server, timeoutMs: number): void {
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (!first) { socket.destroy(); return; }
      socket.unshift(first);
      socket.setTimeout(0);
      if (first[0] !== 0x16) {
        const body = 'This port speaks TLS (HTTPS): use https:// to reach it.\n';
        // Destroyed once flushed: the socket is paused, so the client's FIN would never be read.
        socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy());
        return;
      }
      for (const l of tlsListeners) l.call(server, socket);
    });
  });
}

/**
 * The certificate and key being served, and their renewal: a reload compares the files (a renewal
 * replaces them in place) and hands new ones to the server for new connections.
 */
export class TlsFiles {
  private current: { cert: Buffer; key: Buffer } | undefined;

  constructor(config: Config, private readonly server: Server, private readonly log: Logger) {
    if (!config.tls) return;
    this.current = readTlsFiles(config.tls);
    answerPlainHttpOnTlsPort(server, config.limits.headersTimeout);
    for (const w of tlsWarnings(config.tls)) log.warn(w);
  }

  get serving(): boolean { return this.current !== undefined; }

  /** Serves the next config's certificate if it differs; true when it did. */
  reload(next: Config): boolean {
    if (!this.current || !next.tls) return false;
    const files = readTlsFiles(next.tls);
    if (files.cert.equals(this.current.cert) && files.key.equals(this.current.key)) return false;
    (this.server as unknown as SecureServer).setSecureContext({ ...files, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true });
    this.current = files;
    for (const w of tlsWarnings(next.tls)) this.log.warn(w);
    return true;
  }
}
