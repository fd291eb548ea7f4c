// `regway config import` must give back a file that plans to nothing on the node it was read from:
// adopting regway starts from what the node does today, without a surprise diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyCommand, importCommand, planCommand } from './commands.js';

const SPEC = `version: 1
registries:
  - host: docker.io
    mirrors:
      - url: http://10.0.0.5:5000
        insecure: true
      - url: https://mirror.example.internal
        insecure: true
      - url: http://regway.internal:5000
        gateway: true
  - host: ghcr.io
    mirrors:
      - url: http://regway.internal:5000
        gateway: true
  - host: lab.example:5000
    server: http://lab.example:5000
    insecure: true
  - host: registry.example.com:5000
    ca: /etc/regway/ca.crt
    credentials:
      username: ci-bot
      password: { env: REGISTRY_PASSWORD }
  - host: evil.example.com
    blocked: true
insecureRegistries: [10.20.0.0/16]
unqualifiedSearchRegistries: [registry.example.com:5000, docker.io]
`;

test('apply, import, plan with the imported file: nothing to change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regway-roundtrip-'));
  const root = join(dir, 'node');
  writeFileSync(join(dir, 'spec.yaml'), SPEC);
  const env = { REGISTRY_PASSWORD: 's3cret', REGWAY_PASSWORD_REGISTRY_EXAMPLE_COM_5000: 's3cret' };
  const sources = { env, readFile: () => '' };
  const applied = await applyCommand({ root, file: join(dir, 'spec.yaml'), sources, reload: false });
  assert.ok(applied.written.length >= 5, `apply wrote ${applied.written.join(', ')}`);
  const imported = importCommand({ root });
  writeFileSync(join(dir, 'imported.yaml'), imported);
  const { plan } = await planCommand({ root, file: join(dir, 'imported.yaml'), sources });
  assert.deepEqual(
    plan.changes.map((c) => `${c.action} ${c.path}\n${c.before ?? ''}\n=>\n${c.after ?? ''}`),
    [],
    `imported file:\n${imported}`,
  );
  assert.doesNotMatch(imported, /insecureRegistries: \[\]/);
});
