// Runs `regway controller` from its register function (src/cli/main.ts is wired by the project lead).
import { Command } from 'commander';
import { registerController } from '../../src/cli/controller.js';

const program = new Command('regway');
registerController(program);
await program.parseAsync(process.argv);
