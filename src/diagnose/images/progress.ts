// Progress bars on stderr, only when stderr is a terminal: pipes and CI logs get no control characters.
import type { WriteStream } from 'node:tty';
import { fmtBytes } from '../common/http.js';

export interface Progress {
  add(bytes: number, items?: number): void;
  addTotal(bytes: number, items?: number): void;
  done(): void;
}

export const NO_PROGRESS: Progress = { add() {}, addTotal() {}, done() {} };

/** A one-line bar: `label [#####.....]  45% 12.3 MiB/27.0 MiB 3/7`. Redrawn at most every 100 ms. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  let total = 0;
  let totalItems = 0;
  let done = 0;
  let items = 0;
  let last = 0;
  const draw = (force = false): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const width = Math.max(10, Math.min(40, ((stream as WriteStream).columns ?? 80) - label.length - 45));
    const frac = total ? Math.min(1, done / total) : 0;
    const fill = Math.round(frac * width);
    stream.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmtBytes(done)}/${fmtBytes(total)} ${items}/${totalItems}\x1b[K`);
  };
  return {
    add(b, n = 0) {
      done += b;
      items += n;
      draw();
    },
    addTotal(b, n = 0) {
      total += b;
      totalItems += n;
      draw();
    },
    done() {
      draw(true);
      stream.write('\n');
    },
  };
}
