// The regway CLI with the commands of issue 4 registered (src/cli/main.ts wires them in the
// product; tests must not depend on that edit landing first).
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
