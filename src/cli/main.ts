import { Command } from 'commander';
import { runCli } from './run.js';
import { REGWAY_VERSION } from '../obs/tools.js';

type Register = (program: Command) => void;

/**
 * Every command, loaded on demand: `regway serve` must not pay for the Kubernetes client (~60 MB)
 * or the diagnostics to start, so only the module of the command being run is imported. Help
 * (no command, or an unknown one) loads them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  // Gateway
  serve: async () => (await import('./serve.js')).registerServe,
  reload: async () => (await import('./reload.js')).registerReload,
  gc: async () => (await import('./gc.js')).registerGc,
  index: async () => (await import('./index-cmd.js')).registerIndex,
  verify: async () => (await import('./verify.js')).registerVerify,
  policy: async () => (await import('./policy.js')).registerPolicy,
  hosted: async () => (await import('./hosted.js')).registerHosted,
  user: async () => (await import('./user.js')).registerUser,
  tls: async () => (await import('./tls.js')).registerTls,
  slo: async () => (await import('./slo.js')).registerSlo,
  // Client configuration
  config: async () => (await import('./config.js')).registerConfigCommand,
  // Diagnostics
  doctor: async () => (await import('./doctor.js')).registerDoctor,
  trace: async () => (await import('./trace.js')).registerTrace,
  inspect: async () => (await import('./inspect.js')).registerInspect,
  warm: async () => (await import('./warm.js')).registerWarm,
  bench: async () => (await import('./bench.js')).registerBench,
  // Kubernetes
  controller: async () => (await import('./controller.js')).registerController,
};

const program = new Command('regway').description('Container-registry gateway: pull-through OCI cache, client configuration, diagnostics').version(REGWAY_VERSION);
const wanted = process.argv[2];
const names = wanted && wanted in COMMANDS ? [wanted] : Object.keys(COMMANDS);
for (const name of names) (await COMMANDS[name]!())(program);
await runCli(program);
