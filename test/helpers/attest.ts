// Vulnerability reports as `cosign attest --type vuln --key` attaches them, written by the test: an
// in-toto statement with cosign's vuln predicate (the scanner result in Trivy's JSON shape), in a
// DSSE envelope whose signature covers the pre-authentication encoding (PAE), as the layer of the
// manifest tagged sha256-<hex>.att or of an OCI 1.1 referrer of artifactType
// application/vnd.dsse.envelope.v1+json. Nothing here is imported from regway.
import { sign } from 'node:crypto';
import { MT, pushManifestWithBlobs, sha256 } from './images.js';
import { addToFallbackIndex, subjectOf, type TestKey } from './cosign.js';

const DSSE = 'application/vnd.dsse.envelope.v1+json';
const VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';

export interface ReportOptions {
  /** Severities of the vulnerabilities found, e.g. ['CRITICAL', 'HIGH', 'HIGH']. */
  severities: string[];
  scanFinishedOn: Date;
  /** Report on this digest but attach it to the image (a report copied from another image). */
  subjectDigest?: string;
  mode?: 'tag' | 'referrer';
}

/** The vuln predicate as cosign writes it, with Trivy's `-f json` output as the scanner result. */
export function vulnPredicate(severities: string[], finished: Date) {
  return {
    invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
    scanner: {
      uri: 'pkg:github/aquasecurity/trivy@v0.50.0',
      version: '0.50.0',
      db: { uri: '', version: '' },
      result: {
        SchemaVersion: 2,
        ArtifactType: 'container_image',
        Results: [
          {
            Target: 'debian 12',
            Class: 'os-pkgs',
            Type: 'debian',
            Vulnerabilities: severities.map((Severity, i) => ({ VulnerabilityID: `CVE-2024-${1000 + i}`, PkgName: 'libfoo', InstalledVersion: '1.0', Severity })),
          },
        ],
      },
    },
    metadata: { scanStartedOn: new Date(finished.getTime() - 60_000).toISOString(), scanFinishedOn: finished.toISOString() },
  };
}

/** A DSSE envelope of an in-toto statement about `digest`, signed with `key` over PAE. */
export function dsseEnvelope(name: string, digest: string, predicate: unknown, key: TestKey): Buffer {
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: VULN, subject: [{ name, digest: { sha256: digest.slice(7) } }], predicate }));
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]);
  const sig = sign('sha256', pae, key.privateKey).toString('base64');
  return Buffer.from(JSON.stringify({ payloadType: type, payload: statement.toString('base64'), signatures: [{ keyid: '', sig }] }));
}

/** Attests a vulnerability report on `digest` in repository `name`, as cosign does. Returns the attestation manifest's digest. */
export async function cosignAttestVuln(registryUrl: string, name: string, digest: string, key: TestKey, opts: ReportOptions): Promise<string> {
  const envelope = dsseEnvelope(name, opts.subjectDigest ?? digest, vulnPredicate(opts.severities, opts.scanFinishedOn), key);
  const config = Buffer.from(
    JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [sha256(envelope)] }, config: {} }),
  );
  const referrer = opts.mode === 'referrer';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      ...(referrer ? { artifactType: DSSE } : {}),
      config: { mediaType: MT.ociConfig, size: config.length, digest: sha256(config) },
      layers: [{ mediaType: DSSE, size: envelope.length, digest: sha256(envelope), annotations: { 'dev.cosignproject.cosign/signature': '', predicateType: VULN } }],
      ...(referrer ? { subject: await subjectOf(registryUrl, name, digest) } : {}),
    }),
  );
  const ref = referrer ? sha256(manifest) : `${digest.replace(':', '-')}.att`;
  const pushed = await pushManifestWithBlobs(registryUrl, name, ref, [config, envelope], manifest, MT.ociManifest);
  if (referrer && !pushed.subjectAcknowledged) await addToFallbackIndex(registryUrl, name, digest, { mediaType: MT.ociManifest, digest: pushed.digest, size: manifest.length, artifactType: DSSE });
  return pushed.digest;
}
