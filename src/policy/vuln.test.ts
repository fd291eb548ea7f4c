import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { checkEnvelope, judgeReport, limitsOf, pae, readPredicate, type VulnLimits } from './vuln.js';

const D = `sha256:${'a'.repeat(64)}`;
const E = `sha256:${'b'.repeat(64)}`;
const DAY = 86_400_000;
const NOW = Date.parse('2025-01-10T00:00:00Z');
const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

const predicate = (severities: string[], finished = '2025-01-09T00:00:00Z') => ({
  scanner: { result: { Results: [{ Vulnerabilities: severities.map((Severity) => ({ VulnerabilityID: 'CVE-1', Severity })) }] } },
  metadata: { scanFinishedOn: finished },
});

function envelope(key: ReturnType<typeof keyPair>, subject: string, pred: unknown, predicateType = 'https://cosign.sigstore.dev/attestation/vuln/v1', tamper = false): Buffer {
  const body = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject: [{ name: 'x', digest: { sha256: subject.slice(7) } }], predicate: pred }));
  const sig = sign('sha256', pae('application/vnd.in-toto+json', body), key.privateKey).toString('base64');
  const payload = tamper ? Buffer.from(body.toString().replace('CVE-1', 'CVE-2')) : body;
  return Buffer.from(JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: payload.toString('base64'), signatures: [{ keyid: '', sig }] }));
}

test('PAE is DSSE v1 encoding (the spec example)', () => {
  assert.equal(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
});

test('a DSSE vuln report counts only when signed by a trusted key over PAE and about this digest', () => {
  const k = keyPair();
  const other = keyPair();
  const env = envelope(k, D, predicate(['CRITICAL', 'HIGH', 'high', 'Negligible', 'weird']));
  const ok = checkEnvelope(env, [k.publicKey], D);
  assert.deepEqual(ok, { kind: 'valid', report: { scannedAt: Date.parse('2025-01-09T00:00:00Z'), counts: { critical: 1, high: 2, medium: 0, low: 1, unknown: 1 } } });
  assert.equal(checkEnvelope(env, [other.publicKey], D).kind, 'untrusted');
  assert.equal(checkEnvelope(env, [k.publicKey], E).kind, 'untrusted', 'a report of another image');
  assert.equal(checkEnvelope(envelope(k, D, predicate(['LOW']), undefined, true), [k.publicKey], D).kind, 'untrusted', 'payload changed after signing');
  assert.equal(checkEnvelope(envelope(k, D, {}, 'https://slsa.dev/provenance/v0.2'), [k.publicKey], D).kind, 'other-predicate');
  assert.equal(checkEnvelope(envelope(k, D, { scanner: { result: { runs: [] } } }), [k.publicKey], D).kind, 'unreadable');
  assert.equal(checkEnvelope(Buffer.from('not json'), [k.publicKey], D).kind, 'untrusted');
  // The signature must be over PAE, not over the bare payload.
  const body = Buffer.from(JSON.stringify({ predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1', subject: [{ digest: { sha256: D.slice(7) } }], predicate: predicate([]) }));
  const bare = Buffer.from(
    JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: body.toString('base64'), signatures: [{ sig: sign('sha256', body, k.privateKey).toString('base64') }] }),
  );
  assert.equal(checkEnvelope(bare, [k.publicKey], D).kind, 'untrusted');
});

test('Grype JSON is read too', () => {
  assert.deepEqual(readPredicate({ scanner: { result: { matches: [{ vulnerability: { severity: 'Critical' } }, { vulnerability: { severity: 'Medium' } }] } } })?.counts, {
    critical: 1,
    high: 0,
    medium: 1,
    low: 0,
    unknown: 0,
  });
});

test('limits: nothing above maxSeverity, then maxCritical and maxHigh; age by metadata.scanFinishedOn', () => {
  const l = (x: Partial<VulnLimits>): VulnLimits => ({ maxSeverity: 'critical', maxCritical: 0, maxAge: 7 * DAY, ...x });
  assert.deepEqual(limitsOf(l({})), { critical: 0, high: Infinity, medium: Infinity, low: Infinity, unknown: Infinity });
  assert.deepEqual(limitsOf(l({ maxSeverity: 'medium', maxCritical: 5, maxHigh: 3 })), { critical: 0, high: 0, medium: Infinity, low: Infinity, unknown: Infinity });
  assert.deepEqual(limitsOf(l({ maxSeverity: 'none' })), { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 });
  const r = (counts: Partial<Record<'critical' | 'high' | 'medium' | 'low' | 'unknown', number>>, age = DAY) => ({
    scannedAt: NOW - age,
    counts: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, ...counts },
  });
  assert.deepEqual(judgeReport(r({ high: 9 }), l({}), NOW), { ok: true, expires: NOW - DAY + 7 * DAY });
  const over = judgeReport(r({ critical: 3, high: 12 }), l({ maxCritical: 1, maxHigh: 10 }), NOW);
  assert.equal(over.ok, false);
  assert.ok(!over.ok && over.reason === 'vulnerabilities-above-limit' && /^3 critical \(limit 1\), 12 high \(limit 10\) above the limit/.test(over.detail), JSON.stringify(over));
  const old = judgeReport(r({}, 8 * DAY), l({}), NOW);
  assert.ok(!old.ok && old.reason === 'report-too-old' && /scanned 2025-01-02T00:00:00.000Z, 8d ago; maxAge is 7d/.test(old.detail), JSON.stringify(old));
  const undated = judgeReport({ counts: r({}).counts }, l({}), NOW);
  assert.ok(!undated.ok && undated.reason === 'report-too-old');
});
