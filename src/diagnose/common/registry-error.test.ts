import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainErrors, failedUpstreams, outcomeText, parseErrorBody } from './registry-error.js';

// The body a regway gateway sends when its upstream is down (src/upstream/registry-upstreams.ts).
const GATEWAY_502 = JSON.stringify({
  errors: [
    {
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'no upstream of docker.io could answer',
      detail: { registry: 'docker.io', attempts: [{ upstream: 'http://127.0.0.1:25101', outcome: 'upstream http://127.0.0.1:25101 unreachable: connect ECONNREFUSED 127.0.0.1:25101' }] },
    },
  ],
});

test('a gateway UPSTREAM_UNAVAILABLE body becomes the sentence a person needs', () => {
  const errors = parseErrorBody(Buffer.from(GATEWAY_502));
  assert.equal(explainErrors(errors, 'docker.io'), "the gateway's upstream http://127.0.0.1:25101 for docker.io refused the connection (connect ECONNREFUSED 127.0.0.1:25101)");
  assert.deepEqual(failedUpstreams(errors), ['http://127.0.0.1:25101']);
});

test('several attempts are told in order; circuit-open and HTTP outcomes read plainly', () => {
  const body = {
    errors: [
      {
        code: 'UPSTREAM_UNAVAILABLE',
        message: 'm',
        detail: {
          registry: 'quay.io',
          attempts: [
            { upstream: 'https://mirror', outcome: 'skipped: circuit open' },
            { upstream: 'https://quay.io', outcome: 'upstream https://quay.io unreachable: getaddrinfo ENOTFOUND quay.io' },
            { upstream: 'https://third', outcome: 'HTTP 503' },
          ],
        },
      },
    ],
  };
  assert.equal(
    explainErrors(parseErrorBody(JSON.stringify(body)), 'x'),
    "the gateway's upstream https://mirror for quay.io was skipped: it failed repeatedly and is marked down for now (circuit open); " +
      "then the gateway's upstream https://quay.io for quay.io does not resolve (DNS) (getaddrinfo ENOTFOUND quay.io); " +
      "then the gateway's upstream https://third for quay.io answered 503",
  );
});

test("any registry's OCI error is quoted with its code; non-OCI bodies give nothing", () => {
  assert.equal(explainErrors(parseErrorBody('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}'), 'r'), 'DENIED: requested access to the resource is denied');
  assert.deepEqual(parseErrorBody('<html>502 Bad Gateway</html>'), []);
  assert.deepEqual(parseErrorBody(''), []);
  assert.equal(explainErrors([], 'r'), undefined);
  assert.equal(outcomeText('upstream https://u unreachable: Headers Timeout Error'), 'timed out (Headers Timeout Error)');
  assert.equal(outcomeText('something odd'), 'failed: something odd');
});
