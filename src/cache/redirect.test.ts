// Blob redirects, the pure parts: who is redirected (networks, repository opt-out), the CDN URL
// signatures (checked against nginx's secure_link_md5 formula, and tamper/expiry refused) and the
// expiry a Redirector puts in its URLs; the config rules (S3 only, a CDN key when signed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RedirectPolicy, Redirector, cdnUrl, checkCdnUrl, type ObjectUrls } from './redirect.js';
import { parseDigest } from '../oci/digest.js';
import { configSchema } from '../config/schema.js';

const D = parseDigest(`sha256:${'ab'.repeat(32)}`);
const KEY = `regway/blobs/sha256/ab/${'ab'.repeat(32)}`;

describe('redirect policy', () => {
  it('redirects clients inside clientNetworks and outside exceptNetworks, IPv4-mapped addresses included', () => {
    const p = new RedirectPolicy({ clientNetworks: ['0.0.0.0/0', '::/0'], exceptNetworks: ['10.0.0.0/8', 'fd00::/8'], exceptRepositories: [] });
    assert.equal(p.applies('203.0.113.9', 'library/alpine'), true);
    assert.equal(p.applies('10.1.2.3', 'library/alpine'), false);
    assert.equal(p.applies('::ffff:10.1.2.3', 'library/alpine'), false);
    assert.equal(p.applies('::ffff:203.0.113.9', 'library/alpine'), true);
    assert.equal(p.applies('fd00::1', 'library/alpine'), false);
    assert.equal(p.applies('2001:db8::1', 'library/alpine'), true);
    assert.equal(p.applies('unknown', 'library/alpine'), false, 'an address that does not parse is served, never redirected');
  });

  it('redirects only the listed client networks when given, and a single address works', () => {
    const p = new RedirectPolicy({ clientNetworks: ['192.0.2.0/24', '198.51.100.7'], exceptNetworks: ['192.0.2.128/25'], exceptRepositories: [] });
    assert.equal(p.applies('192.0.2.5', 'a'), true);
    assert.equal(p.applies('192.0.2.200', 'a'), false);
    assert.equal(p.applies('198.51.100.7', 'a'), true);
    assert.equal(p.applies('198.51.100.8', 'a'), false);
    assert.equal(p.applies('::1', 'a'), false);
  });

  it('never redirects an excepted repository (access-rule patterns, matched on the name in the registry)', () => {
    const p = new RedirectPolicy({ clientNetworks: ['0.0.0.0/0'], exceptNetworks: [], exceptRepositories: ['secret/**', 'library/app-*'] });
    assert.equal(p.applies('203.0.113.9', 'secret'), false);
    assert.equal(p.applies('203.0.113.9', 'secret/a/b'), false);
    assert.equal(p.applies('203.0.113.9', 'library/app-x'), false);
    assert.equal(p.applies('203.0.113.9', 'library/app'), true);
    assert.equal(p.applies('203.0.113.9', 'secretive/a'), true);
  });
});

describe('CDN URL signing', () => {
  it('none: the base URL (its path kept) and the key in the bucket, nothing else', () => {
    assert.equal(cdnUrl('https://cdn.example.com/reg/', KEY, 'none', undefined, 0), `https://cdn.example.com/reg/${KEY}`);
  });

  it("nginx-secure-link is exactly nginx's secure_link_md5 \"$secure_link_expires$uri <key>\" in base64url", () => {
    const url = new URL(cdnUrl('http://127.0.0.1:8080/bucket', KEY, 'nginx-secure-link', 's3cret', 1_700_000_000));
    const expected = createHash('md5').update(`1700000000/bucket/${KEY} s3cret`).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    assert.equal(url.pathname, `/bucket/${KEY}`);
    assert.equal(url.searchParams.get('expires'), '1700000000');
    assert.equal(url.searchParams.get('md5'), expected);
  });

  for (const signing of ['hmac-sha256', 'nginx-secure-link'] as const) {
    it(`${signing}: accepted as signed, refused when the path, the expiry or the key differ, expired after its time`, () => {
      const url = cdnUrl('https://cdn.example.com', KEY, signing, 'k1', 1000);
      assert.equal(checkCdnUrl(url, signing, 'k1', 999), 'ok');
      assert.equal(checkCdnUrl(url, signing, 'k1', 1001), 'expired');
      assert.equal(checkCdnUrl(url, signing, 'k2', 999), 'bad-signature');
      assert.equal(checkCdnUrl(url.replace(`/ab/${'ab'.repeat(32)}`, `/cd/${'cd'.repeat(32)}`), signing, 'k1', 999), 'bad-signature', 'another blob');
      assert.equal(checkCdnUrl(url.replace('expires=1000', 'expires=999999'), signing, 'k1', 999), 'bad-signature', 'a later expiry');
    });
  }
});

describe('Redirector', () => {
  const urls: ObjectUrls & { asked: number[] } = {
    asked: [],
    async presign(_d, sec) { this.asked.push(sec); return `http://s3.test/b/${KEY}?X-Amz-Expires=${sec}`; },
    bucketKey: () => KEY,
  };
  const base = { clientNetworks: ['0.0.0.0/0'], exceptNetworks: [], exceptRepositories: [] };

  it('presigned: asks the store for a URL valid for the configured expiry, in seconds', async () => {
    const r = new Redirector({ ...base, mode: 'presigned', expiry: 120_000 }, urls);
    assert.equal(r.target, 'presigned');
    assert.match(await r.location(D), /X-Amz-Expires=120$/);
    assert.deepEqual(urls.asked, [120]);
  });

  it('cdn: signs an expiry of now + expiry', async () => {
    const r = new Redirector({ ...base, mode: 'cdn', expiry: 300_000, cdn: { baseUrl: 'https://cdn.test', signing: 'hmac-sha256', key: 'k' } }, urls, () => 1_000_000);
    const u = new URL(await r.location(D));
    assert.equal(u.searchParams.get('expires'), String(1000 + 300));
    assert.equal(checkCdnUrl(u.href, 'hmac-sha256', 'k', 1000), 'ok');
  });
});

describe('redirect config', () => {
  const reg = (redirect: unknown) => ({ registries: { 'docker.io': { upstreams: [{ url: 'https://registry-1.docker.io' }], redirect } } });
  const s3 = { storage: { driver: 's3', s3: { bucket: 'cache' } } };
  const issues = (c: unknown) => { const r = configSchema.safeParse(c); return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`); };

  it('is off by default, and a minimal presigned section gets a 5 minute expiry and every client', () => {
    const off = configSchema.parse({ ...s3, ...reg(undefined) });
    assert.equal(off.registries['docker.io']!.redirect, undefined);
    const on = configSchema.parse({ ...s3, ...reg({ mode: 'presigned' }) });
    assert.deepEqual(on.registries['docker.io']!.redirect, { mode: 'presigned', expiry: 300_000, clientNetworks: ['0.0.0.0/0', '::/0'], exceptNetworks: [], exceptRepositories: [] });
  });

  it('is refused, with the reason, unless storage.driver is s3', () => {
    assert.deepEqual(issues(reg({ mode: 'presigned' })), ['registries.docker.io.redirect: blob redirects need storage.driver s3 (the redirect points at the object in the bucket, or a CDN in front of it); storage.driver is filesystem']);
  });

  it('refuses a cdn mode without cdn, a signed CDN without a key, a bad CIDR and an expiry past 7 days', () => {
    assert.match(issues({ ...s3, ...reg({ mode: 'cdn' }) }).join(), /redirect.cdn is missing/);
    assert.match(issues({ ...s3, ...reg({ mode: 'cdn', cdn: { baseUrl: 'https://cdn.test', signing: 'hmac-sha256' } }) }).join(), /needs redirect.cdn.key/);
    assert.match(issues({ ...s3, ...reg({ mode: 'presigned', exceptNetworks: ['10.0.0.0/33'] }) }).join(), /IP address or CIDR/);
    assert.match(issues({ ...s3, ...reg({ mode: 'presigned', expiry: '8d' }) }).join(), /between 1s and 7d/);
    assert.match(issues({ ...s3, ...reg({ mode: 'cdn', cdn: { baseUrl: 'https://cdn.test/?x=1' } }) }).join(), /without query/);
  });
});
