// The blob-redirect benchmark's pure part (#18): CPU per GB, the 10x verdict, and the runs that
// must never pass (errors, a "redirect" mode that streamed, a "streaming" mode that redirected).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatRedirectMarkdown, redirectRows, type ModeLoad, type RedirectBench } from '../../bench/lib/redirect-table.js';
import { parseOptions } from '../../bench/lib/options.js';

const mode = (o: Partial<ModeLoad>): ModeLoad => ({ requests: 100, redirects: 0, bytes: 2e9, wallSec: 10, regwayCpuSec: 2, rgwCpuSec: 3, errors: [], ...o });
const bench = (s: Partial<ModeLoad>, r: Partial<ModeLoad>): RedirectBench => ({ layerBytes: 20e6, clients: 8, streaming: mode(s), redirect: mode({ redirects: 100, ...r }) });
const cpuRow = (b: RedirectBench) => redirectRows(b).find((r) => r.scenario.includes('regway CPU'))!;

describe('blob redirect bench table', () => {
  it('CPU per GB in each mode and the streaming/redirect ratio against the 10x target', () => {
    const row = cpuRow(bench({ regwayCpuSec: 2 }, { regwayCpuSec: 0.1, bytes: 4e9 }));
    assert.equal(row.streaming, 1); // 2 s over 2 GB
    assert.equal(row.redirect, 0.025); // 0.1 s over 4 GB
    assert.equal(row.ratio, 40);
    assert.equal(row.met, true);
    assert.equal(cpuRow(bench({ regwayCpuSec: 2 }, { regwayCpuSec: 0.25 })).met, false, '8x is not 10x');
  });

  it('throughput is bytes verified over the time spent downloading', () => {
    const row = redirectRows(bench({ bytes: 1e9, wallSec: 10 }, { bytes: 3e9, wallSec: 10 }))[0]!;
    assert.equal(row.streaming, 100);
    assert.equal(row.redirect, 300);
    assert.equal(row.ratio, 3);
  });

  it('a redirect run with no CPU tick at all meets the target (an infinite ratio), shown as inf', () => {
    const rows = redirectRows(bench({}, { regwayCpuSec: 0 }));
    assert.equal(rows[1]!.met, true);
    assert.match(formatRedirectMarkdown(rows), /\| inf \|/);
  });

  it('never passes with failed downloads, a redirect mode that streamed, or a streaming mode that redirected', () => {
    const cases: [Partial<ModeLoad>, Partial<ModeLoad>, RegExp][] = [
      [{}, { errors: ['HTTP 403, digest sha256:e3b0c44298'] }, /redirect: 1 failed downloads/],
      [{}, { redirects: 90 }, /only 90 of 100 downloads were redirected/],
      [{ redirects: 1 }, {}, /streaming: 1 downloads were redirected/],
      [{ requests: 0, bytes: 0 }, {}, /streaming: no download completed/],
    ];
    for (const [s, r, note] of cases) {
      const row = cpuRow(bench({ regwayCpuSec: 100, ...s }, { regwayCpuSec: 0.001, ...r }));
      assert.equal(row.met, false, String(note));
      assert.match(row.note ?? '', note);
    }
  });

  it('formats small CPU figures with two significant digits and notes once below the table', () => {
    const md = formatRedirectMarkdown(redirectRows(bench({}, { regwayCpuSec: 0.0084, errors: ['x'] })));
    assert.match(md, /\| 0\.0042 \|/);
    assert.equal(md.match(/- note:/g)?.length, 1);
  });

  it('--redirects (or BENCH_REDIRECTS=1) opts in; off by default', () => {
    assert.equal(parseOptions([], {}).redirects, false);
    assert.equal(parseOptions(['--redirects'], {}).redirects, true);
    assert.equal(parseOptions([], { BENCH_REDIRECTS: '1' }).redirects, true);
  });
});
