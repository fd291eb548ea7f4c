// Every credential source passes the conformance suite, each holding the logins the way its tool
// files them. The helper cases run a real credential helper program (a shell script on PATH,
// speaking the docker-credential-helpers protocol), not a stand-in function.
import { after } from 'node:test';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { credentialSourceSuite, type Login } from './credentials.suite.js';
import { AuthFileSource, DockerConfigSource, HelperSource, StaticSource } from './credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'regway-creds-suite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
process.env.PATH = `${dir}:${process.env.PATH ?? ''}`;

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Where `docker login` files a registry (config.json keys, and the server URL a helper is given). */
const dockerKey = (registry: string) => (registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry);
const auths = (logins: Login[], key: (r: string) => string) => Object.fromEntries(logins.map((l) => [key(l.registry), { auth: b64(`${l.creds.username}:${l.creds.password}`) }]));

/**
 * A credential helper `docker-credential-<name>`: reads the server URL on stdin, prints the
 * stored {ServerURL, Username, Secret}, or "credentials not found in native keychain" and exit 1
 * (what the real helpers do). Its store is a file of `<server URL>\t<JSON answer>` lines.
 */
function installHelper(logins: Login[]): string {
  const name = `suite-${randomUUID().slice(0, 8)}`;
  const store = join(dir, `${name}.store`);
  writeFileSync(store, logins.map((l) => `${dockerKey(l.registry)}\t${JSON.stringify({ ServerURL: dockerKey(l.registry), Username: l.creds.username, Secret: l.creds.password })}\n`).join(''));
  const script = join(dir, `docker-credential-${name}`);
  writeFileSync(
    script,
    `#!/bin/sh
[ "$1" = get ] || { echo "unsupported: $1" >&2; exit 2; }
url=$(cat)
awk -F '\\t' -v u="$url" '$1 == u { print $2; found = 1 } END { exit found ? 0 : 1 }' '${store}' && exit 0
echo "credentials not found in native keychain"
exit 1
`,
  );
  chmodSync(script, 0o755);
  return name;
}

let n = 0;
const file = (doc: unknown) => {
  const p = join(dir, `config-${n++}.json`);
  writeFileSync(p, JSON.stringify(doc));
  return p;
};
const done = { cleanup: async () => {} };

credentialSourceSuite('docker config.json (auths)', async (logins) => ({ source: new DockerConfigSource(file({ auths: auths(logins, dockerKey) })), hostScoped: true, ...done }));

credentialSourceSuite('docker config.json (credsStore helper)', async (logins) => ({
  source: new DockerConfigSource(file({ auths: {}, credsStore: installHelper(logins) })),
  hostScoped: true,
  ...done,
}));

credentialSourceSuite('containers auth.json (podman, skopeo)', async (logins) => ({
  source: new AuthFileSource(file({ auths: auths(logins, (r) => r) })),
  hostScoped: true,
  ...done,
}));

credentialSourceSuite('credential helper', async (logins) => ({ source: new HelperSource(installHelper(logins)), hostScoped: true, ...done }));

credentialSourceSuite('static (per registry, from the config)', async (logins) => ({
  source: new StaticSource(logins[0]?.creds ?? { username: 'unused', password: 'unused' }),
  hostScoped: false,
  ...done,
}));
