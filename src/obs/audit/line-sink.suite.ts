/**
 * The conformance suite for audit line sinks (src/obs/audit/line-sink.test.ts runs it on the
 * stdout sink over a pipe-like stream, the HTTP sink against a local collector, and the audit
 * file, which the audit log writes like a sink).
 *
 * The contract, as the audit log (audit-log.ts) and the gateway's shutdown use it:
 *  - `write` returns at once, whatever the destination does;
 *  - every line written reaches the destination once, whole, in the order written, whether
 *    written in one burst or spread over many ticks while earlier lines are still in flight;
 *  - when `close` resolves every line written before it has been delivered (the gateway exits
 *    right after: a line still buffered then is lost);
 *  - a destination that keeps up drops nothing (`dropped` stays 0);
 *  - a line written after close neither throws nor takes the process down.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
// A turn of the event loop, not a wait for time: the time is the subject of none of these checks.
import { setImmediate as tick } from 'node:timers/promises';
import type { LineSink } from './forwarders.js';

export interface SinkFixture {
  sink: LineSink;
  /** The lines the destination has received so far, in arrival order (newline kept). */
  delivered(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const line = (i: number, tag: string) => `${JSON.stringify({ '@timestamp': new Date(1_700_000_000_000 + i).toISOString(), event: { action: 'pull' }, n: i, tag, note: 'ünïcode ✓' })}\n`;

export function lineSinkSuite(name: string, make: () => Promise<SinkFixture>): void {
  describe(`audit line sink conformance: ${name}`, () => {
    const withSink = async (body: (f: SinkFixture) => Promise<void>) => {
      const f = await make();
      try {
        await body(f);
      } finally {
        await f.cleanup();
      }
    };

    it('a burst: every line delivered once, whole and in order, by the time close resolves', () =>
      withSink(async (f) => {
        const lines = Array.from({ length: 2_000 }, (_, i) => line(i, 'burst'));
        for (const l of lines) assert.equal(f.sink.write(l), undefined, 'write returns at once, nothing to await');
        await f.sink.close();
        assert.deepEqual(await f.delivered(), lines);
        assert.equal(f.sink.dropped, 0);
      }));

    it('lines spread over many ticks while earlier ones are in flight: all delivered, in order', () =>
      withSink(async (f) => {
        const lines = Array.from({ length: 600 }, (_, i) => line(i, 'ticks'));
        for (let i = 0; i < lines.length; i++) {
          f.sink.write(lines[i]!);
          // Every rhythm a request path has: the same microtask queue, the next microtask, the next turn.
          if (i % 3 === 1) await Promise.resolve();
          if (i % 7 === 2) await tick();
        }
        await f.sink.close();
        assert.deepEqual(await f.delivered(), lines);
        assert.equal(f.sink.dropped, 0);
      }));

    it('close with nothing written resolves, and delivers nothing', () =>
      withSink(async (f) => {
        await f.sink.close();
        assert.deepEqual(await f.delivered(), []);
      }));

    it('a line written after close neither throws nor takes the process down', () =>
      withSink(async (f) => {
        f.sink.write(line(0, 'before'));
        await f.sink.close();
        assert.doesNotThrow(() => f.sink.write(line(1, 'after')));
        // Let whatever the late line set off (a flush on the next turn, a stream error) happen inside this test.
        for (let i = 0; i < 5; i++) await tick();
        assert.equal((await f.delivered())[0], line(0, 'before'));
      }));
  });
}
