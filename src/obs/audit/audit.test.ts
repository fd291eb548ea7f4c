import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toEcs, ecsLine, isoTime } from './ecs.js';
import { RotatingFile } from './rotating-file.js';
import { AuditLog } from './audit-log.js';
import { waitFor } from '../../testing/wait.js';
import type { ObservedEvent } from '../pulls.js';

const dir = mkdtempSync(join(tmpdir(), 'regway-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const D = 'sha256:' + 'a'.repeat(64);
const ev = (p: Partial<ObservedEvent> = {}): ObservedEvent => ({
  time: Date.UTC(2026, 0, 1), operation: 'manifest', method: 'GET', status: 200, durationMs: 12.5, bytes: 1234, clientIp: '203.0.113.7',
  user: 'alice', userAgent: 'containerd/1.6', registry: 'docker.io', repository: 'library/alpine', reference: '3.20', digest: D, cache: 'miss', upstream: 'https://mirror', pull: true, ...p,
});

describe('ECS mapping', () => {
  it('isoTime formats exactly as Date.toISOString, fractions of a millisecond and second edges included', () => {
    const base = Date.UTC(2026, 10, 30, 4, 59, 59, 998);
    const times = [0, 0.4, 999.9, 1000, base, base + 1, base + 2, base + 2.75, base - 12.5, 253402300799999, 253402300800000, -1.5, -86400001];
    for (let i = 0; i < 2000; i++) times.push(base + Math.random() * 5000, Math.random() * 253402300799999);
    for (const t of times) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
  });
  it('maps the fields Filebeat/Elasticsearch expect', () => {
    const d = toEcs(ev()) as Record<string, any>;
    assert.equal(d['@timestamp'], '2026-01-01T00:00:00.000Z');
    assert.equal(d.event.action, 'image-pull');
    assert.equal(d.event.outcome, 'success');
    assert.equal(d.event.duration, 12_500_000);
    assert.equal(d.client.ip, '203.0.113.7');
    assert.equal(d.source.ip, '203.0.113.7');
    assert.equal(d.user.name, 'alice');
    assert.equal(d.user_agent.original, 'containerd/1.6');
    assert.equal(d.http.request.method, 'GET');
    assert.equal(d.http.response.status_code, 200);
    assert.equal(d.http.response.body.bytes, 1234);
    assert.deepEqual(d.container.image, { name: 'docker.io/library/alpine', tag: ['3.20'], hash: { all: [D] } });
    assert.equal(d.regway.cache, 'miss');
    assert.equal(d.regway.upstream, 'https://mirror');
  });
  it('actions: blob reads are not pulls, token refusals are named', () => {
    assert.equal((toEcs(ev({ operation: 'blob', pull: undefined })) as any).event.action, 'blob-read');
    assert.equal((toEcs(ev({ operation: 'manifest', pull: undefined, reference: D })) as any).event.action, 'manifest-read');
    assert.equal((toEcs(ev({ operation: 'token', status: 401, pull: undefined })) as any).event.action, 'token-refusal');
    assert.equal((toEcs(ev({ operation: 'token', status: 200, pull: undefined })) as any).event.action, 'token-grant');
    assert.equal((toEcs(ev({ reference: D })) as any).container.image.tag, undefined, 'a digest is not a tag');
  });
});

describe('RotatingFile', () => {
  it('rotates by size without losing or splitting lines, keeps N files', async () => {
    const path = join(dir, 'size', 'audit.jsonl');
    let t = Date.UTC(2026, 0, 1);
    const f = new RotatingFile(path, { maxSize: 1000, intervalMs: 0, keep: 3, now: () => (t += 1000) });
    for (let i = 0; i < 200; i++) f.write(JSON.stringify({ i, pad: 'x'.repeat(40) }) + '\n');
    await f.close();
    // Pruning is asynchronous: wait until it has brought the directory down to the kept files.
    const files = (await waitFor(() => { const l = readdirSync(join(dir, 'size')); return l.length <= 4 && l; }, 'pruning down to 3 rotated files + the current one', 10_000, { seen: () => readdirSync(join(dir, 'size')) })).sort();
    assert.equal(files.length, 4, files.join(','));
    const all = files.flatMap((n) => readFileSync(join(dir, 'size', n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).i as number));
    for (const n of files) assert.ok(readFileSync(join(dir, 'size', n)).length <= 1000, n);
    // The newest lines are all there, consecutive, in order.
    assert.deepEqual(all.slice(-all.length), [...all].sort((a, b) => a - b));
    assert.equal(all.at(-1), 199);
    assert.ok(f.rotations > 10);
  });
  it('rotates by time', async () => {
    const path = join(dir, 'time', 'audit.jsonl');
    let t = Date.UTC(2026, 0, 1);
    const f = new RotatingFile(path, { maxSize: 0, intervalMs: 3_600_000, keep: 10, now: () => t });
    f.write('{"a":1}\n'); t += 1_800_000; f.write('{"a":2}\n'); t += 1_800_000; f.write('{"a":3}\n');
    await f.close();
    const files = readdirSync(join(dir, 'time')).sort();
    assert.deepEqual(files, ['audit-2026-01-01T01-00-00.000Z.jsonl', 'audit.jsonl']);
    assert.equal(readFileSync(join(dir, 'time', 'audit.jsonl'), 'utf8'), '{"a":3}\n');
  });
});

describe('AuditLog', () => {
  it('audits requests that matter, skips pings and scrapes; blobs optional', async () => {
    const lines: string[] = [];
    const sink = { name: 'mem', dropped: 0, write: (l: string) => { lines.push(l); }, close: async () => {} };
    const a = new AuditLog({ sinks: [sink], blobs: false });
    a.record(ev()); a.record(ev({ operation: 'ping' })); a.record(ev({ operation: 'other' })); a.record(ev({ operation: 'blob', pull: undefined }));
    a.record(ev({ operation: 'tags', pull: undefined })); a.record(ev({ operation: 'token', status: 401, pull: undefined }));
    assert.deepEqual(lines.map((l) => JSON.parse(l).event.action), ['image-pull', 'tag-list', 'token-refusal']);
    a.alert({ id: 'x', time: 0, rule: 'pulls-per-client', key: '10.0.0.1', clientIp: '10.0.0.1', severity: 'warning', summary: 's', value: 101, threshold: 100, windowMs: 1 });
    const al = JSON.parse(lines.at(-1)!);
    assert.equal(al.event.kind, 'alert');
    assert.equal(al.rule.name, 'pulls-per-client');
    await a.close();
  });
});

describe('the fast line builder', () => {
  it('writes exactly what JSON.stringify(toEcs(e)) would, for every shape of event', () => {
    const cases = [
      ev(), ev({ user: undefined, userAgent: undefined }), ev({ reference: D }), ev({ repository: undefined, registry: undefined, reference: undefined, digest: undefined }),
      ev({ errorCode: 'MANIFEST_UNKNOWN', status: 404, pull: undefined }), ev({ pullFailed: true, aborted: true }), ev({ pullFailed: false, cache: undefined, upstream: undefined }),
      ev({ userAgent: 'evil "quoted" \\ agent\n', repository: 'a/b', registry: 'r.example:5000' }), ev({ operation: 'token', status: 401, pull: undefined }),
    ];
    for (const c of cases) assert.equal(ecsLine(c), JSON.stringify(toEcs(c)));
  });
});

