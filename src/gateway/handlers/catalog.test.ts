// The catalog handler over the index: pages in order, each name once, only what the caller may
// see, with a Link exactly when there is more, and the same answer as the whole-list path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyReply } from 'fastify';
import { catalog } from './discovery.js';
import type { RegistryContext, Req } from './context.js';
import { IndexDb } from '../../store/index-db.js';
import { IndexedMetadataStore } from '../../store/indexed-metadata.js';
import { DriverMetadataStore } from '../../store/metadata.js';
import { MemoryDriver } from '../../store/memory-driver.js';
import type { RepoKey } from '../../oci/repo.js';
import type { RepositoryReader } from '../../oci/registry.js';

const TAG = { digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, checkedAt: 1 };

async function setup(repos: RepoKey[], opts: { hosted?: boolean; complete?: boolean } = {}) {
  const db = new IndexDb(':memory:');
  const store = new IndexedMetadataStore(new DriverMetadataStore(new MemoryDriver()), db, { complete: () => opts.complete ?? true });
  for (const r of repos) await store.putTag(r, 'v1', TAG);
  const listed = { count: 0 };
  const reader = (hosted: boolean) => ({ repositories: async () => { listed.count++; return (await store.listRepositories()).filter((r) => (r.registry === '_hosted') === hosted); } }) as unknown as RepositoryReader;
  const ctx = {
    pull: reader(false),
    hosted: opts.hosted ? { reader: reader(true), http: {} } : undefined,
    router: () => ({ defaultRegistry: 'docker.io' }),
    catalog: store,
  } as unknown as RegistryContext;
  return Object.assign(ctx, { listed });
}

async function call(ctx: RegistryContext, query: Record<string, string>, visible?: (k: RepoKey) => boolean) {
  const headers: Record<string, string> = {};
  let body = '';
  const reply = { header(k: string, v: string) { headers[k] = v; return reply; }, send(b: string) { body = b; return reply; } } as unknown as FastifyReply;
  const req = { query, principal: visible ? { visible } : undefined } as unknown as Req;
  await catalog(ctx, req, reply);
  return { names: (JSON.parse(body) as { repositories: string[] }).repositories, link: headers.link };
}

async function walk(ctx: RegistryContext, n: number, visible?: (k: RepoKey) => boolean): Promise<string[]> {
  const out: string[] = [];
  let q: Record<string, string> | undefined = { n: String(n) };
  while (q) {
    const r = await call(ctx, q, visible);
    out.push(...r.names);
    assert.ok(r.names.length <= n);
    const next = r.link ? new URLSearchParams(/\?([^>]+)>/.exec(r.link)![1]) : undefined;
    q = next ? { n: next.get('n')!, last: next.get('last')! } : undefined;
  }
  return out;
}

const many = Array.from({ length: 530 }, (_, i) => ({ registry: i % 3 === 0 ? 'docker.io' : 'ghcr.io', name: `team${i % 7}/app-${String(i).padStart(3, '0')}` }));

test('paging through the index lists every name once, in order, the same as the whole list', async () => {
  const ctx = await setup(many);
  const whole = (await call(ctx, {})).names;
  assert.equal(whole.length, 530);
  for (const n of [1, 7, 100, 1000]) assert.deepEqual(await walk(ctx, n), whole, `n=${n}`);
});

test('a caller who may see few names gets full pages of them, and a Link only when more exist', async () => {
  const ctx = await setup(many);
  const mine = (k: RepoKey) => k.name.startsWith('team3/');
  const names = await walk(ctx, 10, mine);
  const expected = (await call(ctx, {}, mine)).names;
  assert.deepEqual(names, expected);
  assert.ok(expected.length > 50 && expected.every((n) => n.includes('team3/')));
  const last = await call(ctx, { n: '10', last: expected[expected.length - 11]! }, mine);
  assert.equal(last.names.length, 10);
  assert.equal(last.link, undefined, 'the page that ends the list has no Link');
});

test('the same name on the default registry and hosted is listed once; hosted names only when hosting is on', async () => {
  const repos = [{ registry: 'docker.io', name: 'app' }, { registry: '_hosted', name: 'app' }, { registry: '_hosted', name: 'mine' }];
  assert.deepEqual((await call(await setup(repos, { hosted: true }), { n: '10' })).names, ['app', 'mine']);
  assert.deepEqual((await call(await setup(repos, { hosted: false }), { n: '10' })).names, ['app']);
});

test('while the index is built, the whole-list path answers, the same way', async () => {
  const building = await setup(many.slice(0, 40), { complete: false });
  const ready = await setup(many.slice(0, 40));
  assert.deepEqual(await walk(building, 6), await walk(ready, 6));
  assert.ok(building.listed.count > 0, 'the building index sent the pages to the whole lists');
  assert.equal(ready.listed.count, 0, 'a complete index answers the pages alone');
});
