// `regway warm`: reads the image list (arguments, --from FILE, a Kubernetes manifest), runs the warm-up, prints.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fmtBytes } from '../diagnose/common/http.js';
import { imagesFromKubernetes, looksLikeKubernetes, parseImageLines } from '../diagnose/images/image-list.js';
import { progressBar } from '../diagnose/images/progress.js';
import { warm } from '../diagnose/images/warm.js';

export function registerWarm(program: Command): void {
  program
    .command('warm')
    .description("preheat a regway gateway's cache with images, before the nodes ask for them")
    .argument('[image...]', 'image references')
    .requiredOption('-g, --gateway <url>', 'the gateway to warm, e.g. http://regway.internal:5000')
    .option('-f, --from <file>', 'read references from FILE (one a line) or the images of a Kubernetes manifest; - for stdin')
    .option('-p, --platform <list>', 'comma-separated os/arch list, or "all"', 'linux/amd64')
    .option('-c, --concurrency <n>', 'blobs fetched at once', '4')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Progress bars go to stderr when it is a terminal. Exit 1 when any image failed.
Examples:
  regway warm -g http://regway.internal:5000 ghcr.io/org/api:2.3.1 docker.io/library/redis:7
  regway warm -g http://regway.internal:5000 -f images.txt -p linux/amd64,linux/arm64 -c 8
  kubectl get deploy -A -o yaml | regway warm -g http://regway.internal:5000 -f -`,
    )
    .action(async (args: string[], o: { gateway: string; from?: string; platform: string; concurrency: string; json?: boolean }) => {
      const refs = [...args];
      if (o.from) {
        const text = readFileSync(o.from === '-' ? 0 : o.from, 'utf8');
        refs.push(...(looksLikeKubernetes(text) ? imagesFromKubernetes(text) : parseImageLines(text)));
      }
      if (!refs.length) throw new Error('no images: give references, or --from FILE');
      const res = await warm(refs, {
        gateway: o.gateway,
        platforms: o.platform
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        concurrency: Math.max(1, Number(o.concurrency) || 4),
        progress: progressBar(`warming ${refs.length} image(s)`),
      });
      if (o.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
      else {
        for (const i of res.images) {
          const cache = Object.entries(i.cache)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ');
          process.stdout.write(
            i.error ? `FAIL ${i.ref}: ${i.error}\n` : `ok   ${i.ref} ${i.digest} [${i.platforms.join(', ')}]: ${i.blobs} blobs, ${fmtBytes(i.bytes)}${cache ? ` (${cache})` : ''}\n`,
          );
        }
        process.stdout.write(`${res.images.length - res.failed}/${res.images.length} images warm, ${res.blobs} blobs, ${fmtBytes(res.bytes)} in ${(res.durationMs / 1000).toFixed(1)} s\n`);
      }
      process.exitCode = res.failed ? 1 : 0;
    });
}
