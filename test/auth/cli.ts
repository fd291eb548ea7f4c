// The regway CLI with just the commands the sign-in and hosted tests use (serve, user, tls, hosted). src/cli/main.ts
// registers the same functions; this entry keeps these tests independent of main.ts's command table.
import { Command } from 'commander';
import { registerServe } from '../../src/cli/serve.js';
import { registerUser } from '../../src/cli/user.js';
import { registerTls } from '../../src/cli/tls.js';
import { registerHosted } from '../../src/cli/hosted.js';
import { runCli } from '../../src/cli/run.js';

const program = new Command('regway');
registerServe(program);
registerUser(program);
registerTls(program);
registerHosted(program);
await runCli(program);
