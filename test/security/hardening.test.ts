// Smaller hardening against abuse by clients, on a gateway with sign-in, hosted repositories and
// a blob size limit. Before the fix: bcrypt ran on the event loop (a burst of logins with random
// names stalled /healthz for seconds), random user names dodged the failed-login backoff, `100
// Continue` was sent before the 401 and before a too-large length was refused, one client could
// open upload sessions without end, the status page and /metrics were open to anyone, and the
// token realm echoed a raw Host header into the challenge.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startAuthGateway, USERS, basic } from '../auth/fixtures.js';
import type { HostedGateway } from '../hosted/gateway.js';
import { removeTempDir } from '../helpers/proc.js';

/** The raw HTTP/1.1 exchange of one request, up to `until` or the close: interim responses are visible. */
function rawExchange(port: number, head: string, until: RegExp, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = () => { clearTimeout(t); s.destroy(); resolve(got); };
    const t = setTimeout(done, ms);
    s.on('data', (d) => { got += d.toString('latin1'); if (until.test(got)) done(); });
    s.on('close', done);
    s.on('error', done);
    s.write(head);
  });
}

describe('hardening', () => {
  let gw: HostedGateway & { dir: string };
  before(async () => {
    gw = await startAuthGateway({ hosted: { repositories: ['local/**', 'users/**', 'public/**'], maxBlobSize: 1_000_000, maxUploadSessions: 5 } });
  });
  after(async () => { await gw?.stop(); removeTempDir(gw.dir); });

  it('no 100 Continue before the 401: an unauthenticated upload is refused without inviting its body', async () => {
    const got = await rawExchange(gw.port, 'POST /v2/local/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n', /\r\n\r\n[\s\S]*\}/);
    assert.doesNotMatch(got, /^HTTP\/1\.1 100/, got.slice(0, 80));
    assert.match(got, /^HTTP\/1\.1 401/);
  });

  it('a declared Content-Length over hosted.maxBlobSize is 413 before a byte is read; an allowed one gets 100 Continue', async () => {
    const auth = `Authorization: ${basic('alice', USERS.alice)}\r\n`;
    const d = `sha256:${'a'.repeat(64)}`;
    const big = await rawExchange(gw.port, `POST /v2/local/app/blobs/uploads/?digest=${d} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5000000\r\nExpect: 100-continue\r\n\r\n`, /\r\n\r\n[\s\S]*\}/);
    assert.doesNotMatch(big, /^HTTP\/1\.1 100/);
    assert.match(big, /^HTTP\/1\.1 413/);
    assert.match(big, /SIZE_INVALID/);
    const small = await rawExchange(gw.port, `POST /v2/local/app/blobs/uploads/?digest=${d} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 10\r\nExpect: 100-continue\r\n\r\n`, /HTTP\/1\.1 100/);
    assert.match(small, /^HTTP\/1\.1 100 Continue/);
  });

  it('upload sessions are capped per user', async () => {
    const alice = { authorization: basic('alice', USERS.alice) };
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await request(`${gw.url}/v2/local/app/blobs/uploads/`, { method: 'POST', headers: alice });
      await r.body.dump();
      codes.push(r.statusCode);
    }
    assert.deepEqual(codes, [202, 202, 202, 202, 202, 429, 429]);
    const bob = await request(`${gw.url}/v2/local/app/blobs/uploads/`, { method: 'POST', headers: { authorization: basic('bob', USERS.bob) } });
    await bob.body.dump();
    assert.equal(bob.statusCode, 202, 'another user has a budget of their own');
  });

  it('the status page, the SLO view and /metrics name images and clients: sign-in and the observe action required', async () => {
    for (const path of ['/-/status', '/-/ui', '/-/slo', '/metrics']) {
      const anon = await request(`${gw.url}${path}`);
      await anon.body.dump();
      assert.equal(anon.statusCode, 401, path);
      assert.match(String(anon.headers['www-authenticate']), /^Basic /);
      // The test rules give nobody `observe`: signed in is not enough.
      const carol = await request(`${gw.url}${path}`, { headers: { authorization: basic('carol', USERS.carol) } });
      await carol.body.dump();
      assert.equal(carol.statusCode, 403, path);
    }
    const health = await request(`${gw.url}/healthz`);
    await health.body.dump();
    assert.equal(health.statusCode, 200, 'health stays open for load balancers');
  });

  it('the default realm never echoes a bad Host header into the challenge', async () => {
    const got = await rawExchange(gw.port, 'GET /v2/local/app/manifests/v1 HTTP/1.1\r\nHost: evil",error="x\r\n\r\n', /\r\n\r\n/);
    const challenge = /www-authenticate: (.*)\r\n/i.exec(got)?.[1] ?? '';
    assert.ok(challenge.startsWith('Bearer realm="http://127.0.0.1:'), challenge);
    assert.doesNotMatch(challenge, /evil/);
  });
  it('a burst of logins with random user names does not stall other requests, and is backed off per client (users who signed in here before are not locked out)', async () => {
    const logins = Array.from({ length: 20 }, () => request(`${gw.url}/v2/`, { headers: { authorization: basic(`u${randomBytes(6).toString('hex')}`, 'nope') } }).then(async (r) => { await r.body.dump(); return r.statusCode; }));
    const t0 = performance.now();
    const health: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await (await request(`${gw.url}/healthz`)).body.dump();
      health.push(performance.now() - s);
    }
    const statuses = await Promise.all(logins);
    const storm = performance.now() - t0;
    // Compared with the burst itself, not with a wall-clock budget: on the event loop /healthz
    // waited for most of the burst; off it, it answers while the burst is still running.
    assert.ok(Math.max(...health) < storm / 2, `healthz took up to ${Math.max(...health).toFixed(0)} ms during a ${storm.toFixed(0)} ms burst`);
    assert.ok(statuses.every((s) => s === 401 || s === 429), String(statuses));
    // 20 failures from one address (the default budget across names): the next is refused unchecked.
    const next = await request(`${gw.url}/v2/`, { headers: { authorization: basic('yet-another-name', 'nope') } });
    await next.body.dump();
    assert.equal(next.statusCode, 429);
    assert.ok(Number(next.headers['retry-after']) >= 1);
    const alice = await request(`${gw.url}/v2/`, { headers: { authorization: basic('alice', USERS.alice) } });
    await alice.body.dump();
    assert.equal(alice.statusCode, 200, 'alice signed in from this address earlier: the guesser does not lock her out');
  });

});
