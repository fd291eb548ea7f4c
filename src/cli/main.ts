import { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerGc } from './gc.js';
import { registerConfigCommand } from './config.js';
import { registerUser } from './user.js';
import { registerTls } from './tls.js';
import { registerHosted } from './hosted.js';
import { registerSlo } from './slo.js';
import { registerDoctor } from './doctor.js';
import { registerTrace } from './trace.js';
import { registerInspect } from './inspect.js';
import { registerWarm } from './warm.js';
import { registerBench } from './bench.js';
import { registerController } from './controller.js';
import { runCli } from './run.js';

const program = new Command('regway')
  .description('Container-registry gateway: pull-through OCI cache, client configuration, diagnostics')
  .version('0.1.0');
// Gateway
registerServe(program);
registerGc(program);
registerHosted(program);
registerUser(program);
registerTls(program);
registerSlo(program);
// Client configuration
registerConfigCommand(program);
// Diagnostics
registerDoctor(program);
registerTrace(program);
registerInspect(program);
registerWarm(program);
registerBench(program);
// Kubernetes
registerController(program);
await runCli(program);
