import { execFileSync } from 'node:child_process';
import { startUpstream, startRegway } from '../lib/peers.js';
const mb = Number(process.env.MB ?? 200);
const up = await startUpstream({ layers: 2, layerSize: mb * 1e6, name: 'probe/app', tag: 'v1' });
const rw = await startRegway(up.dist, { cpuProfDir: process.env.PROF });
const curl = (url: string) => execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{time_starttransfer} %{time_total} %{speed_download}', url]).toString();
try {
  for (const [i, l] of up.image.layers.entries()) {
    const d = curl(`${up.dist.url}/v2/probe/app/blobs/${l.digest}`);
    const c = curl(`${rw.url}/v2/probe/app/blobs/${l.digest}`);
    const w = curl(`${rw.url}/v2/probe/app/blobs/${l.digest}`);
    const f = (s: string) => { const [t, tt, sp] = s.split(' ').map(Number); return `ttfb ${(t! * 1000).toFixed(1)}ms ${(sp! / 1e6).toFixed(0)} MB/s`; };
    console.log(`layer ${i}: direct ${f(d)} | cold ${f(c)} | warm ${f(w)}`);
  }
} finally { await rw.stop(); await up.dist.stop(); }
