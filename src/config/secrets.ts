import { readFileSync } from 'node:fs';
import type { SecretRef } from './schema.js';

/**
 * Resolves a secret reference at wiring time (the edge), so the rest of the code receives values
 * and never reads the environment itself. Errors name the reference, never the value.
 */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined) throw new Error(`environment variable ${ref.env} is not set; export it or change the credential reference`);
    return v;
  }
  try { return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, ''); } catch (e) {
    throw new Error(`cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
