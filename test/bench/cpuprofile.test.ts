import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, summarize, type CpuProfile } from '../../bench/lib/cpuprofile.js';

// root -> handler (app.ts) -> record (metrics.ts) ; root -> (idle)
const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
    { id: 2, callFrame: frame('handler', 'file:///w/dist/gateway/app.js', 9), children: [3] },
    { id: 3, callFrame: frame('inc', 'file:///w/node_modules/prom-client/lib/counter.js', 40) },
    { id: 4, callFrame: frame('(idle)', '') },
  ],
  // 1 ms apart (timeDeltas are microseconds): handler, inc, inc, idle, inc
  samples: [2, 3, 3, 4, 3],
  timeDeltas: [1000, 1000, 1000, 1000, 1000],
};

describe('cpuprofile summary', () => {
  it('labels files: packages by name, our own files from src/ or dist/ on', () => {
    assert.equal(fileLabel('file:///a/node_modules/fastify/lib/reply.js'), 'fastify');
    assert.equal(fileLabel('file:///a/node_modules/@aws-sdk/client-s3/x.js'), '@aws-sdk/client-s3');
    assert.equal(fileLabel('file:///tmp/x/dist/obs/metrics.js'), 'obs/metrics.js');
    assert.equal(fileLabel('node:internal/streams/writable'), 'node:internal/streams/writable');
    assert.equal(fileLabel(''), '(native)');
  });
  it('self time per function and file, inclusive time counted once per sample', () => {
    const s = summarize(PROFILE);
    assert.equal(s.totalMs, 5);
    assert.deepEqual(s.selfByFunction, [['inc prom-client/lib/counter.js:41', 3], ['handler gateway/app.js:10', 1], ['(idle) (native):1', 1]]);
    assert.deepEqual(s.selfByFile[0], ['prom-client', 3]);
    assert.deepEqual(new Map(s.inclusive).get('handler gateway/app.js:10'), 4);
    assert.deepEqual(new Map(s.inclusive).get('(root) (native):1'), 5);
  });
  it('keeps only the samples inside the window', () => {
    const s = summarize(PROFILE, 0.0025, 0.0045); // samples at 3 ms and 4 ms
    assert.equal(s.totalMs, 2);
    assert.deepEqual(s.selfByFunction.map(([k]) => k).sort(), ['(idle) (native):1', 'inc prom-client/lib/counter.js:41']);
  });
});
