import type { Command } from 'commander';
import { ConfigError } from '../config/load.js';
import { ERROR_CATALOGUE, isRegistryError } from '../oci/errors.js';

/** Exit codes shared by every command; a registry error's comes from its catalogue entry (docs/errors.md). */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, upstream: 4 } as const;

/** Runs the program; errors become one readable line with a next step, never a stack trace. */
export async function runCli(program: Command): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`regway: ${e.message}\n`);
      process.exit(EXIT.config);
    }
    if (isRegistryError(e)) {
      process.stderr.write(`regway: ${e.code}: ${e.message}\n`);
      process.exit(ERROR_CATALOGUE[e.code].exit);
    }
    process.stderr.write(`regway: ${(e as Error).message}\n`);
    process.exit(EXIT.failure);
  }
}
