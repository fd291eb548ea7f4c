// The diagnose commands on a program of their own, so tests run the real CLI (flags, output, exit codes) without
// src/cli/main.ts, which wires them for users.
import { Command } from 'commander';
import { registerBench } from '../../src/cli/bench.js';
import { registerDoctor } from '../../src/cli/doctor.js';
import { registerInspect } from '../../src/cli/inspect.js';
import { registerTrace } from '../../src/cli/trace.js';
import { registerWarm } from '../../src/cli/warm.js';
import { runCli } from '../../src/cli/run.js';

const program = new Command('regway');
registerDoctor(program);
registerTrace(program);
registerInspect(program);
registerWarm(program);
registerBench(program);
await runCli(program);
