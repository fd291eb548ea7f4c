// Every audit destination passes the line sink conformance suite: stdout over a stream that
// buffers like a pipe (asynchronous on POSIX: a container's stdout), the HTTP sink against a local
// NDJSON collector, and the rotating audit file (the audit log writes it like a sink), with and
// without rotation.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { lineSinkSuite } from './line-sink.suite.js';
import { HttpSink, StdoutSink, type LineSink } from './forwarders.js';
import { RotatingFile } from './rotating-file.js';

/** A stream that takes each write on a later turn, as a pipe to a log shipper does. */
function pipeLike(): { out: Writable; got: string[] } {
  const got: string[] = [];
  const out = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      setImmediate(() => {
        got.push(chunk.toString('utf8'));
        cb();
      });
    },
  });
  return { out, got };
}
const splitLines = (text: string) => text.split(/(?<=\n)/).filter((l) => l.length > 0);

lineSinkSuite('stdout (a pipe)', async () => {
  const { out, got } = pipeLike();
  return { sink: new StdoutSink(out), delivered: async () => splitLines(got.join('')), cleanup: async () => {} };
});

lineSinkSuite('http (NDJSON batches)', async () => {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
  const sink = new HttpSink({ url, headers: {}, batch: 100, queue: 10_000, retries: 2, timeoutMs: 5_000, backoffMs: 20 });
  return {
    sink,
    delivered: async () => splitLines(bodies.join('')),
    cleanup: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
});

/** The audit file as a sink (it has no name of its own: the audit log counts it as "file"). */
async function fileSink(rotateAt: number): Promise<{ sink: LineSink; delivered: () => Promise<string[]>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'regway-audit-sink-'));
  let t = 1_700_000_000_000;
  const file = new RotatingFile(join(dir, 'audit.jsonl'), { maxSize: rotateAt, intervalMs: 0, keep: 10_000, now: () => (t += 1000) });
  const sink: LineSink = { name: 'file', write: (l) => file.write(l), close: () => file.close(), get dropped() { return file.dropped; } };
  return {
    sink,
    // Rotated files first (their names sort in time order), the live file last.
    delivered: async () => {
      const names = (await readdir(dir)).filter((n) => n !== 'audit.jsonl').sort();
      const texts = await Promise.all([...names, 'audit.jsonl'].map((n) => readFile(join(dir, n), 'utf8').catch(() => '')));
      return splitLines(texts.join(''));
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

lineSinkSuite('audit file', () => fileSink(0));
lineSinkSuite('audit file, rotating every ~20 lines', () => fileSink(4096));
