// The parse memory (ApiParser) must answer exactly what a fresh parse answers: same routing, same
// errors, a new router after a reload, and upload URLs never kept.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RepoRouter } from '../oci/addressing.js';
import { isRegistryError } from '../oci/errors.js';
import { ApiParser, parseApiRequest } from './parse.js';

const path = (url: string) => url.split('?')[0]!.slice('/v2/'.length);
const ns = (url: string) => new URL(url, 'http://x').searchParams.get('ns') ?? undefined;

describe('ApiParser: a memory of parsed URLs that answers as a fresh parse does', () => {
  const router = new RepoRouter('docker.io', ['local/**']);
  const urls = ['/v2/alpine/manifests/3', '/v2/docker.io/library/alpine/manifests/3', '/v2/x/y/blobs/sha256:' + 'a'.repeat(64) + '?ns=ghcr.io', '/v2/local/app/tags/list', '/v2/', '/v2/_catalog', '/v2/nothing-here'];

  it('the same answer as parseApiRequest, the first time and from memory', () => {
    const p = new ApiParser(router);
    for (const url of urls) {
      const fresh = parseApiRequest(url, path(url), ns(url), router);
      assert.deepEqual(p.parse(url, path(url), ns(url)), fresh, url);
      assert.deepEqual(p.parse(url, path(url), ns(url)), fresh, `${url} (remembered)`);
    }
    for (const url of urls.filter((u) => p.parse(u, path(u), ns(u)) !== undefined)) assert.strictEqual(p.parse(url, path(url), ns(url)), p.parse(url, path(url), ns(url)), `${url}: one remembered answer`);
    const a = p.parse(urls[0]!, path(urls[0]!), undefined)!;
    assert.equal(a.repo?.name, 'library/alpine');
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.repo), 'shared by every request: frozen');
  });

  it('an invalid name fails every time (errors are not remembered as answers)', () => {
    const p = new ApiParser(router);
    for (let i = 0; i < 2; i++) {
      assert.throws(() => p.parse('/v2/a/../b/manifests/1', 'a/../b/manifests/1', undefined), (e) => isRegistryError(e, 'NAME_INVALID'));
      assert.throws(() => p.parse('/v2/x/manifests/1?ns=a&ns=b', 'x/manifests/1', ['a', 'b']), (e) => isRegistryError(e, 'NAME_INVALID'));
    }
  });

  it('upload URLs are parsed but not kept; a new router (a reload) routes afresh', () => {
    const p = new ApiParser(router);
    const up = p.parse('/v2/local/app/blobs/uploads/abc', 'local/app/blobs/uploads/abc', undefined)!;
    assert.equal(up.kind, 'upload');
    assert.ok(!Object.isFrozen(up), 'not kept, so not frozen');
    assert.equal(p.parse('/v2/local/app/tags/list', 'local/app/tags/list', undefined)?.repo?.hosted, true, 'hosted before the reload (and remembered)');
    const after = new ApiParser(new RepoRouter('docker.io', []));
    assert.equal(after.parse('/v2/local/app/tags/list', 'local/app/tags/list', undefined)?.repo?.registry, 'docker.io', 'no longer hosted after the reload');
  });

  it('the same URL matched by another route (the 404 route of an unknown method sees the whole path) cannot set what a GET of it is routed to', () => {
    const p = new ApiParser(new RepoRouter('docker.io', []));
    const url = '/v2/reg.test/team/app/manifests/v1?b';
    const other = p.parse(url, 'v2/reg.test/team/app/manifests/v1', undefined); // PROPFIND: no route, '*' is the whole path
    assert.equal(other?.repo?.name, 'v2/reg.test/team/app');
    const get = p.parse(url, 'reg.test/team/app/manifests/v1', undefined);
    assert.deepEqual(get?.repo, { registry: 'reg.test', name: 'team/app', hosted: false }, 'the GET is routed by its own path');
  });

  it('a name containing NUL never finds the answer remembered for an ns and a name', () => {
    const r = new RepoRouter('docker.io', []);
    assert.equal(r.route('team/app', 'reg.test').registry, 'reg.test');
    assert.throws(() => r.route('reg.test\0team/app'), (e) => isRegistryError(e, 'NAME_INVALID'));
    const p = new ApiParser(r);
    assert.throws(() => p.parse('/v2/reg.test%00team/app/manifests/v1', 'reg.test\0team/app/manifests/v1', undefined), (e) => isRegistryError(e, 'NAME_INVALID'));
  });
});
