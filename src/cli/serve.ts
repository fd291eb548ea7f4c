import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../obs/logger.js';
import { createGateway } from '../server/gateway.js';
import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { removePidFile, writePidFile } from './pid-file.js';

/**
 * Caps how far V8 lets the old generation grow past what survived the last full GC. By default it
 * allows up to 4x on a machine with this much memory: on a gateway serving thousands of requests a
 * second that headroom, garbage and not live data, was most of the peak RSS. At 50 % (V8 still
 * grants a minimum step of some MB) the warm-manifest benchmark peaked ~40 MB lower at the same
 * rate. V8 reads this flag at every full GC, so setting it at run time works; an explicit
 * `node --heap-growing-percent=N` wins.
 */
function boundHeapGrowth(percent = 50): void {
  if (process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * Calls `fn` after the file settles (editors write in several steps). Watches the folder, not the
 * file: editors and config managers replace files by rename, which ends a watch on the old inode.
 */
function watchFile(path: string, fn: () => void): void {
  let timer: NodeJS.Timeout | undefined;
  watch(dirname(resolve(path)), (_event, name) => {
    if (name !== basename(path)) return;
    clearTimeout(timer);
    timer = setTimeout(fn, 300);
  }).unref();
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve the OCI registry gateway (pull-through cache in front of upstream registries)')
    .option('-c, --config <file>', 'YAML config file (default: the embedded defaults)')
    .option('-l, --listen <host:port>', 'address to listen on (default 127.0.0.1:5000)')
    .option('-s, --storage <dir>', 'cache storage folder (default ./data)')
    .option('-u, --upstream <registry=url[,url...]>', 'upstreams of a registry in priority order; repeatable', collect, [])
    .option('--hosted <pattern>', 'serve repositories matching this glob from local storage and accept pushes (* = one path segment, ** = any); repeatable', collect, [])
    .option('--htpasswd <file>', 'require sign-in: users of this bcrypt htpasswd file (see `regway user`) may pull, push and delete')
    .addOption(new Option('--pull-through <who>', 'with sign-in on, who may pull every pull-through (cached) registry without a rule naming it').choices(['rules', 'anonymous', 'authenticated']))
    .option('--default-registries', 'serve the embedded public registries too, next to the ones you name')
    .option('--no-default-registries', 'never serve the embedded public registries, even when you name none')
    .option('--p2p-advertise <url>', 'node mode: the URL other nodes reach this one at (overrides p2p.advertiseUrl; e.g. http://$(NODE_IP):5000 in a DaemonSet)')
    .option('--pid-file <file>', 'write the process id here (removed at exit); `regway reload --pid-file FILE` signals exactly this gateway')
    .addHelpText(
      'after',
      `
Registries: the embedded public ones (docker.io, ghcr.io, quay.io, ...) are served only when neither
--config nor --upstream names a registry; whatever you name is the whole list. --default-registries
adds the public ones back, --no-default-registries never serves them (README: "Which registries are served").

Examples:
  regway serve                                   # embedded defaults: 127.0.0.1:5000, ./data, public registries
  regway serve --listen 0.0.0.0:5000 --storage /var/lib/regway --pid-file /run/regway.pid
  regway serve --upstream docker.io=http://10.0.0.5:5000     # only docker.io (air-gapped: nothing public)
  regway serve --upstream docker.io=https://mirror.internal,https://registry-1.docker.io --default-registries
  regway serve --config /etc/regway/regway.yaml
  regway serve --config /etc/regway/node.yaml --p2p-advertise http://10.0.3.7:5000   # node mode (docs/p2p.md)
  regway serve --hosted 'local/**' --htpasswd /etc/regway/htpasswd --no-default-registries   # a private registry only
  regway serve --hosted 'local/**' --htpasswd /etc/regway/htpasswd --pull-through anonymous
                                                 # a private registry, and nodes keep pulling through the cache without credentials

Then pull through it, e.g. podman pull 127.0.0.1:5000/library/alpine:3.20 --tls-verify=false,
or point containerd's hosts.toml / dockerd's registry-mirrors at it (see README).`,
    )
    .action(
      async (opts: {
        config?: string;
        listen?: string;
        storage?: string;
        upstream: string[];
        hosted: string[];
        htpasswd?: string;
        pullThrough?: 'rules' | 'anonymous' | 'authenticated';
        defaultRegistries?: boolean;
        pidFile?: string;
        p2pAdvertise?: string;
      }) => {
        boundHeapGrowth();
        const overrides = {
          listen: opts.listen,
          storage: opts.storage,
          upstreams: opts.upstream,
          hosted: opts.hosted,
          htpasswd: opts.htpasswd,
          pullThrough: opts.pullThrough,
          defaultRegistries: opts.defaultRegistries,
          p2pAdvertise: opts.p2pAdvertise,
        };
        const config = loadConfig(opts.config, overrides);
        const log = createLogger(config.log.level);
        const gw = await createGateway(config, log);
        const idx = config.listen.lastIndexOf(':');
        const host = config.listen.slice(0, idx).replace(/^\[|\]$/g, '');
        const port = Number(config.listen.slice(idx + 1));
        await gw.app.listen({ host, port });
        // After listen: a pid file only ever names a gateway that is serving.
        const pidFile = opts.pidFile ? resolve(opts.pidFile) : undefined;
        if (pidFile) writePidFile(pidFile);
        log.info({ listen: config.listen, storage: config.storage.path, registries: Object.keys(config.registries), pid: process.pid, ...(pidFile ? { pidFile } : {}) }, 'regway gateway serving');
        // One reload at a time: a second signal during one waits for it, then reads the file again.
        let reloading: Promise<void> = Promise.resolve();
        const reload = (why: string) => {
          reloading = reloading.then(async () => {
            try {
              await gw.reload(loadConfig(opts.config, overrides));
            } catch (e) {
              // An invalid config never replaces a working one.
              log.error({ trigger: why, err: (e as Error).message }, 'configuration reload refused; keeping the running configuration');
            }
          });
        };
        process.on('SIGHUP', () => reload('SIGHUP'));
        if (config.watchConfig && opts.config) watchFile(opts.config, () => reload('file change'));
        let stopping = false;
        const stop = async (signal: string) => {
          // A signal sent to the process and to its group arrives twice; with a one-shot handler the
          // second one killed the process in the middle of its graceful shutdown. Shutdown is bounded
          // (in-flight downloads get 30 s); SIGKILL is there for anyone who cannot wait.
          if (stopping) {
            log.info({ signal }, 'already shutting down');
            return;
          }
          stopping = true;
          log.info({ signal }, 'shutting down: finishing in-flight requests');
          const t0 = performance.now();
          await gw.close();
          if (pidFile) removePidFile(pidFile);
          // The line that says it is over: the port is free and nothing is left running.
          log.info({ signal, ms: Math.round(performance.now() - t0) }, 'stopped');
          log.flush?.();
          process.exit(0);
        };
        process.on('SIGINT', () => void stop('SIGINT'));
        process.on('SIGTERM', () => void stop('SIGTERM'));
      },
    );
}
