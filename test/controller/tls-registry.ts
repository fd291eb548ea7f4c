// A CNCF distribution (docker-registry 2.8.2) serving TLS with a certificate from a throw-away CA
// that no client is told about: the "x509: certificate signed by unknown authority" scenario.
// test/helpers/distribution.ts has no TLS option, so this starts the same binary with http.tls.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REGISTRY_BIN } from '../helpers/distribution.js';
import { freePort, waitForHttp } from '../helpers/ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon } from '../helpers/proc.js';
import { makeCert, type TestCert } from './certs.js';

export interface TlsRegistry { url: string; host: string; cert: TestCert; stop(): Promise<void> }

export async function startTlsRegistry(): Promise<TlsRegistry> {
  const dir = makeTempDir('tlsreg');
  const cert = makeCert(dir, 'registry');
  const port = await freePort();
  writeFileSync(join(dir, 'config.yml'), stringify({
    version: 0.1,
    log: { level: 'info', formatter: 'json', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, maintenance: { uploadpurging: { enabled: false } } },
    http: { addr: `127.0.0.1:${port}`, secret: 'tls-test', tls: { certificate: cert.certFile, key: cert.keyFile } },
  }));
  const d = spawnDaemon(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdoutFile: join(dir, 'out.log'), cwd: dir });
  // A plain-HTTP probe of a TLS port gets Go's "400 Client sent an HTTP request to an HTTPS server": up.
  await waitForHttp(`http://127.0.0.1:${port}/v2/`, 15_000);
  return {
    url: `https://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, cert,
    stop: async () => { await stopDaemon(d, 5_000); removeTempDir(dir); },
  };
}
