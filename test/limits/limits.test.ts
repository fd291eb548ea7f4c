// Limits: slowloris (headers and bodies), body size, per-IP and per-user rate limits with 429 +
// Retry-After, per-client concurrency, and X-Forwarded-For believed only from trusted proxies.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { startHostedGateway, type HostedGateway } from '../hosted/gateway.js';
import { USERS, basic, startAuthGateway } from '../auth/fixtures.js';
import { removeTempDir } from '../helpers/proc.js';
import type { RequestEvent } from '../../src/obs/events.js';
import { sha256 as sha } from '../helpers/images.js';
import { waitFor } from '../helpers/wait.js';


async function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) {
  const r = await request(new URL(path, base), { method: method as 'GET', headers, body });
  const buf = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body: buf };
}

/** Opens a socket, runs `talk`, and resolves with what the server sent once it closes (or after maxMs). */
function converse(port: number, talk: (s: Socket) => void, maxMs: number): Promise<{ closedByServer: boolean; data: string }> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect(port, '127.0.0.1', () => talk(s));
    const giveUp = setTimeout(() => { s.destroy(); resolve({ closedByServer: false, data }); }, maxMs);
    s.on('data', (b) => { data += b.toString(); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(giveUp); resolve({ closedByServer: true, data }); });
  });
}

describe('limits', () => {
  const gateways: HostedGateway[] = [];
  after(async () => { for (const g of gateways) await g.stop(); });
  const start = async (config: Parameters<typeof startHostedGateway>[0]) => { const g = await startHostedGateway(config); gateways.push(g); return g; };

  it('slowloris: a client trickling headers is cut off at the headers timeout', async () => {
    const gw = await start({ config: { limits: { headersTimeout: '1s', idleTimeout: '30s' } } });
    let timer: NodeJS.Timeout | undefined;
    const r = await converse(gw.port, (s) => {
      s.write('GET /v2/ HTTP/1.1\r\nhost: x\r\n');
      // One header every 300 ms, for 30 s unless the server hangs up first: never idle, never done.
      let i = 0;
      timer = setInterval(() => { if (!s.destroyed) s.write(`x-slow-${i++}: 1\r\n`); }, 300);
    }, 30_000);
    clearInterval(timer);
    assert.ok(r.closedByServer, 'the server closed the connection');
    assert.match(r.data, /^HTTP\/1\.1 408/, r.data.slice(0, 100));
    assert.equal((await call(gw.url, 'GET', '/v2/')).status, 200, 'a normal client is served');
  });

  it('slowloris on bodies: an upload that stalls is cut off at the idle timeout and keeps nothing', async () => {
    const gw = await start({ config: { limits: { idleTimeout: '1s' } } });
    const p = await call(gw.url, 'POST', '/v2/local/slow/blobs/uploads/');
    const loc = String(p.headers.location);
    const r = await converse(gw.port, (s) => {
      s.write(`PATCH ${loc} HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\ncontent-range: 0-99999\r\n\r\n`);
      s.write(randomBytes(10_000)); // then silence
    }, 30_000);
    assert.ok(r.closedByServer, 'the stalled upload was cut off');
    const st = await call(gw.url, 'GET', loc);
    assert.equal(st.headers.range, '0-0', 'the partial chunk was dropped');
  });

  it('body size limit: blobs over hosted.maxBlobSize get 413, monolithic or chunked, and nothing is stored', async () => {
    const gw = await start({ config: { hosted: { repositories: ['local/**'], maxBlobSize: '10KiB' } } });
    const big = randomBytes(20_000);
    const mono = await call(gw.url, 'POST', `/v2/local/big/blobs/uploads/?digest=${sha(big)}`, {}, big);
    assert.equal(mono.status, 413);
    const p = await call(gw.url, 'POST', '/v2/local/big/blobs/uploads/');
    const a = await call(gw.url, 'PATCH', String(p.headers.location), { 'content-range': '0-7999' }, big.subarray(0, 8000));
    assert.equal(a.status, 202);
    const b = await call(gw.url, 'PATCH', String(a.headers.location), { 'content-range': '8000-15999' }, big.subarray(8000, 16_000));
    assert.equal(b.status, 413);
    assert.equal((await call(gw.url, 'GET', String(a.headers.location))).headers.range, '0-7999');
    assert.equal((await call(gw.url, 'HEAD', `/v2/local/big/blobs/${sha(big)}`)).status, 404);
    const small = randomBytes(5000);
    assert.equal((await call(gw.url, 'POST', `/v2/local/big/blobs/uploads/?digest=${sha(small)}`, {}, small)).status, 201);
  });

  it('rate limit per IP: 429 TOOMANYREQUESTS with Retry-After once the burst is spent', async () => {
    const gw = await start({ config: { limits: { ipRate: 0.5, ipBurst: 3 } } });
    const statuses: number[] = [];
    let retryAfter = '';
    let code = '';
    for (let i = 0; i < 10; i++) {
      const r = await call(gw.url, 'GET', '/v2/');
      statuses.push(r.status);
      if (r.status === 429) { retryAfter = String(r.headers['retry-after']); code = JSON.parse(r.body.toString()).errors[0].code; }
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(statuses.filter((s) => s === 429).length >= 5, JSON.stringify(statuses));
    assert.equal(code, 'TOOMANYREQUESTS');
    assert.ok(Number(retryAfter) >= 1, retryAfter);
  });

  it('rate limit per user: one user is throttled, another is not', async () => {
    const gw = await startAuthGateway({ limits: { userRate: 0.5, userBurst: 3 } });
    gateways.push(gw);
    try {
      const alice = { authorization: basic('alice', USERS.alice) };
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await call(gw.url, 'GET', '/v2/', alice)).status);
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
      assert.ok(statuses.slice(3).every((s) => s === 429), JSON.stringify(statuses));
      assert.equal((await call(gw.url, 'GET', '/v2/', { authorization: basic('bob', USERS.bob) })).status, 200);
    } finally { removeTempDir(gw.dir); }
  });

  it('per-client concurrency: requests beyond the cap get 429 while the others run', async () => {
    const gw = await start({ config: { limits: { perClientConcurrency: 2, idleTimeout: '30s' } } });
    const p1 = await call(gw.url, 'POST', '/v2/local/c/blobs/uploads/');
    const p2 = await call(gw.url, 'POST', '/v2/local/c/blobs/uploads/');
    const held: Socket[] = [];
    for (const p of [p1, p2]) {
      const s = connect(gw.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.write(`PATCH ${p.headers.location} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n`);
      s.write(randomBytes(10)); // the request stays in progress
      held.push(s);
    }
    // The two PATCHes hold both slots once the gateway has read their headers: until then a third
    // request may still pass, after that it must be refused.
    const third = await waitFor(async () => { const r = await call(gw.url, 'GET', '/v2/'); return r.status === 429 && r; }, 'a third request refused while two uploads hold both slots');
    assert.equal(third.status, 429);
    assert.ok(Number(third.headers['retry-after']) >= 1);
    for (const s of held) s.destroy();
    await waitFor(async () => (await call(gw.url, 'GET', '/v2/')).status === 200, 'slots released when the clients go away (GET /v2/ -> 200)', 5_000);
  });

  it('X-Forwarded-For is believed only from trusted proxies', async () => {
    const trusting = await start({ config: { trustedProxies: ['127.0.0.1'], limits: { ipRate: 0.1, ipBurst: 1 } } });
    const plain = await start({ config: { limits: { ipRate: 0.1, ipBurst: 1 } } });
    const seen: RequestEvent[] = [];
    trusting.events.add({ record: (e) => seen.push(e) });
    assert.equal((await call(trusting.url, 'GET', '/v2/', { 'x-forwarded-for': '10.0.0.1' })).status, 200);
    assert.equal((await call(trusting.url, 'GET', '/v2/', { 'x-forwarded-for': '10.0.0.2' })).status, 200, 'another client behind the proxy has its own bucket');
    assert.equal((await call(trusting.url, 'GET', '/v2/', { 'x-forwarded-for': '10.0.0.1' })).status, 429);
    await waitFor(() => seen.length >= 3, 'three request events recorded', 5_000, { seen: () => seen.map((e) => e.clientIp) });
    assert.deepEqual(seen.map((e) => e.clientIp), ['10.0.0.1', '10.0.0.2', '10.0.0.1']);
    assert.equal((await call(plain.url, 'GET', '/v2/', { 'x-forwarded-for': '10.0.0.1' })).status, 200);
    assert.equal((await call(plain.url, 'GET', '/v2/', { 'x-forwarded-for': '10.0.0.2' })).status, 429, 'a forged header does not buy a new bucket');
  });
});
