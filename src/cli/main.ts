import { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerGc } from './gc.js';
import { registerConfigCommand } from './config.js';
import { runCli } from './run.js';

const program = new Command('regway')
  .description('Container-registry gateway: pull-through OCI cache, client configuration, diagnostics')
  .version('0.1.0');
registerServe(program);
registerGc(program);
registerConfigCommand(program);
await runCli(program);
