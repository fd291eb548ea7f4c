// The warm manifest rate with a pull policy on against the same gateway without one (#21: it must
// stay >= 80 %). Two `regway serve` processes on one upstream, one with a policy covering the
// image (signed by a test key and with a vulnerability report attested by another: both checks),
// measured in turn with wrk in interleaved rounds, by tag.
// Run: node --import tsx bench/policy-warm.ts [seconds-per-round] [rounds]
import { startInstance } from '../test/helpers/instance.js';
import { startDistribution } from '../test/helpers/distribution.js';
import { pushImage } from '../test/helpers/images.js';
import { cosignSign, makeKey } from '../test/helpers/cosign.js';
import { cosignAttestVuln } from '../test/helpers/attest.js';
import { runWrk } from './lib/wrk.js';

const [secs = 5, rounds = 4] = process.argv.slice(2).map(Number);
const up = await startDistribution();
const key = makeKey();
const img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
await cosignSign(up.url, 'team/app', img.manifestDigest, key, { dockerReference: 'registry.example.com/team/app' });
const scanner = makeKey();
await cosignAttestVuln(up.url, 'team/app', img.manifestDigest, scanner, { severities: ['HIGH', 'LOW'], scanFinishedOn: new Date() });
const base = { registries: { 'registry.example.com': { upstreams: [{ url: up.url }] } }, log: { level: 'warn' } };
const plain = await startInstance(base);
const policed = await startInstance({
  ...base,
  policies: [{ name: 'team', repositories: ['registry.example.com/**'], keys: [key.publicPem], vulnerabilities: { keys: [scanner.publicPem], maxCritical: 0 } }],
});
try {
  const path = '/v2/registry.example.com/team/app/manifests/v1';
  const headers = { accept: img.mediaType };
  for (const i of [plain, policed]) {
    const r = await fetch(i.url + path, { headers });
    if (r.status !== 200) throw new Error(`${i.url}: ${r.status} ${await r.text()}`);
    await runWrk({ url: i.url + path, headers, durationSec: 2, connections: 16, threads: 1 });
  }
  const total = { plain: 0, policed: 0 };
  for (let r = 0; r < rounds; r++) {
    for (const [name, i] of (r % 2
      ? [
          ['policed', policed],
          ['plain', plain],
        ]
      : [
          ['plain', plain],
          ['policed', policed],
        ]) as [keyof typeof total, typeof plain][]) {
      const res = await runWrk({ url: i.url + path, headers, durationSec: secs, connections: 16, threads: 1 });
      if (res.non2xx) throw new Error(`${name}: ${res.non2xx} non-2xx answers`);
      total[name] += res.requests;
      console.log(`round ${r + 1} ${name}: ${Math.round(res.requestsPerSec)} req/s`);
    }
  }
  const rate = (n: number) => n / (secs * rounds);
  console.log(JSON.stringify({ plainPerSec: Math.round(rate(total.plain)), policyPerSec: Math.round(rate(total.policed)), ratio: +(total.policed / total.plain).toFixed(3) }));
} finally {
  await plain.stop();
  await policed.stop();
  await up.stop();
}
