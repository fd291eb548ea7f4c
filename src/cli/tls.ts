import type { Command } from 'commander';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { selfSignedCert } from '../auth/x509.js';

export function registerTls(program: Command): void {
  const tls = program.command('tls').description('TLS helpers for labs and tests');
  tls
    .command('self-signed')
    .description('Write a self-signed certificate and key (EC P-256) for `tls.cert` / `tls.key`; clients must trust the certificate')
    .option('-o, --out <dir>', 'folder for cert.pem and key.pem', '.')
    .option('-n, --name <host...>', 'DNS names and IPs the certificate is valid for', ['localhost', '127.0.0.1', '::1'])
    .option('--days <n>', 'validity in days', '365')
    .addHelpText(
      'after',
      `
Examples:
  regway tls self-signed --out /etc/regway/tls --name registry.lab.example 10.0.0.5 localhost
  regway serve --config regway.yaml    # with tls: { cert: /etc/regway/tls/cert.pem, key: /etc/regway/tls/key.pem }
Then trust it: curl --cacert cert.pem; skopeo --dest-cert-dir DIR (DIR/ca.crt); docker: /etc/docker/certs.d/HOST:PORT/ca.crt.`,
    )
    .action(async (o: { out: string; name: string[]; days: string }) => {
      const days = Number(o.days);
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error('--days must be between 1 and 3650');
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const cert = selfSignedCert({ commonName: o.name[0] ?? 'localhost', organization: 'regway self-signed', altNames: o.name, days, privateKey, publicKey });
      await fsp.mkdir(o.out, { recursive: true });
      const certPath = join(o.out, 'cert.pem');
      const keyPath = join(o.out, 'key.pem');
      await fsp.writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
      await fsp.writeFile(certPath, cert, { mode: 0o644 });
      process.stdout.write(`regway tls: wrote ${certPath} and ${keyPath} (valid ${days} days for ${o.name.join(', ')})\n`);
    });
}
