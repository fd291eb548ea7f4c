/**
 * The conformance suite every CredentialSource must pass (src/auth/credentials-conformance.test.ts
 * runs it on DockerConfigSource, with plain auths and with a credsStore helper, AuthFileSource,
 * HelperSource with a real helper program, and StaticSource).
 *
 * `make(logins)` builds a source holding the credentials of each login, filed the way its tool
 * files them after `docker login <registry>` (`podman login`, a credential helper's store):
 * Docker Hub under https://index.docker.io/v1/ for Docker, under docker.io for podman.
 *
 * The contract, as the upstream clients use it (through CredentialChain, server/routes.ts):
 *  - a host it holds credentials for gets them, exactly (a password may hold `:`, `@`, non-ASCII);
 *  - Docker Hub is one registry under its names docker.io, index.docker.io, registry-1.docker.io;
 *  - host names compare without case; a port is part of the host;
 *  - any other host gets undefined (never someone else's credentials), however close its name;
 *  - it answers the same every time it is asked.
 * A source configured for one registry (`hostScoped: false`, StaticSource) answers whatever it is
 * asked: the routes only ask it for its registry, so only the first two points apply.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CredentialSource, Credentials } from './credentials.js';

export interface Login {
  /** What was given to `docker login`: docker.io, a host, a host:port. */
  registry: string;
  creds: Credentials;
}

export interface CredentialFixture {
  source: CredentialSource;
  /** False for a source configured per registry, which answers for whatever host it is asked. */
  hostScoped: boolean;
  cleanup(): Promise<void>;
}

const alice: Credentials = { username: 'alice', password: 'pa:ss@wörd/1' };
const bob: Credentials = { username: 'bob', password: 's3cr3t' };
const carol: Credentials = { username: 'carol', password: 'hunter2' };

export function credentialSourceSuite(name: string, make: (logins: Login[]) => Promise<CredentialFixture>): void {
  describe(`credential source conformance: ${name}`, () => {
    const withSource = async (logins: Login[], body: (f: CredentialFixture) => Promise<void>) => {
      const f = await make(logins);
      try {
        await body(f);
      } finally {
        await f.cleanup();
      }
    };

    it('a host it holds credentials for gets them exactly, every time it asks', () =>
      withSource([{ registry: 'registry.example.com', creds: alice }], async ({ source }) => {
        assert.ok(source.name, 'a name for logs');
        assert.deepEqual(await source.get('registry.example.com'), alice);
        assert.deepEqual(await source.get('registry.example.com'), alice, 'asked again');
      }));

    it('Docker Hub is one registry under docker.io, index.docker.io and registry-1.docker.io', () =>
      withSource([{ registry: 'docker.io', creds: bob }], async ({ source }) => {
        for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) assert.deepEqual(await source.get(host), bob, host);
      }));

    it('host names compare without case', () =>
      withSource([{ registry: 'registry.example.com', creds: alice }], async ({ source }) => {
        assert.deepEqual(await source.get('Registry.Example.COM'), alice);
      }));

    it('each host gets its own credentials, and any other host none, however close its name', () =>
      withSource(
        [
          { registry: 'registry.example.com', creds: alice },
          { registry: 'docker.io', creds: bob },
          { registry: 'localhost:5000', creds: carol },
        ],
        async ({ source, hostScoped }) => {
          if (!hostScoped) return;
          assert.deepEqual(await source.get('registry.example.com'), alice);
          assert.deepEqual(await source.get('registry-1.docker.io'), bob);
          assert.deepEqual(await source.get('localhost:5000'), carol);
          for (const other of ['other.example.com', 'example.com', 'registry.example.com.evil.test', 'evil-registry.example.com', 'registry.example', 'localhost', 'localhost:5001', 'ghcr.io', 'docker.io.evil.test']) {
            assert.equal(await source.get(other), undefined, other);
          }
        },
      ));

    it('a source holding nothing has nothing for anyone', () =>
      withSource([], async ({ source, hostScoped }) => {
        if (!hostScoped) return;
        assert.equal(await source.get('registry.example.com'), undefined);
        assert.equal(await source.get('docker.io'), undefined);
      }));
  });
}
