// `regway reload`: makes a running gateway re-read its config file (SIGHUP), found by its pid file,
// so no other process is ever signalled (Node exits on a SIGHUP it does not handle).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { gatewayPid } from './pid-file.js';

export function registerReload(program: Command): void {
  program
    .command('reload')
    .description('make a running gateway re-read its config file (SIGHUP to the pid in its --pid-file)')
    .requiredOption('--pid-file <file>', 'the pid file the gateway was started with (regway serve --pid-file FILE)', process.env.REGWAY_PID_FILE)
    .addHelpText(
      'after',
      `
The gateway validates the file and swaps its registries at once; an invalid file is refused and the
running configuration stays ("configuration reload refused" in its log). listen and storage changes
need a restart. REGWAY_PID_FILE sets the default for --pid-file.

Example:
  regway serve --config /etc/regway/regway.yaml --pid-file /run/regway.pid &
  regway reload --pid-file /run/regway.pid     # the log says: "configuration reloaded: new pulls use the new upstreams"`,
    )
    .action((o: { pidFile: string }) => {
      const file = resolve(o.pidFile);
      const pid = gatewayPid(file);
      process.kill(pid, 'SIGHUP');
      process.stdout.write(`sent SIGHUP to the gateway (pid ${pid} from ${file}); its log tells whether the new configuration was accepted\n`);
    });
}
