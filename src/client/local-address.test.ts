// Redirects from a remote upstream to a local address (cloud metadata, the node's own services) are
// refused; the check must know every written form of those addresses, as the URL parser writes them.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { isLocalAddress } from './upstream-client.js';

it('local addresses in every form a URL hostname takes; remote ones are not', () => {
  const host = (u: string) => new URL(u).hostname;
  for (const u of ['http://127.0.0.1/', 'http://127.9.9.9/', 'http://169.254.169.254/', 'http://0.0.0.0/', 'http://localhost/', 'http://[::1]/', 'http://[::]/', 'http://[fe80::1]/',
    'http://[::ffff:169.254.169.254]/', 'http://[::ffff:127.0.0.1]/', 'http://2130706433/', 'http://0x7f.1/']) {
    assert.equal(isLocalAddress(host(u)), true, `${u} (hostname ${host(u)})`);
  }
  for (const u of ['http://10.0.0.1/', 'http://8.8.8.8/', 'http://[::ffff:8.8.8.8]/', 'http://registry.example/', 'http://[2001:db8::1]/']) {
    assert.equal(isLocalAddress(host(u)), false, u);
  }
});
