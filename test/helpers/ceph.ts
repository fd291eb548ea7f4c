// A real single-node Ceph cluster (one monitor, one BlueStore OSD on a sparse file, one radosgw)
// on loopback, all under one temp dir, for the S3 storage-driver tests (ready in ~7 s, ~150 MB RSS
// idle). The settings follow Ceph's manual deployment guide (https://docs.ceph.com/en/latest/install/manual-deployment/)
// and its RGW configuration reference (https://docs.ceph.com/en/latest/radosgw/config-ref/); the reason for each is beside it.
// Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, DeleteObjectCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';
import { makeTempDir, removeTempDir, run, runOk, spawnDaemon, stopDaemon, type Daemon } from './proc.js';
import { waitFor } from './wait.js';

export interface Ceph {
  /** http://127.0.0.1:PORT of the radosgw S3 endpoint (path-style buckets). */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  dir: string;
  /** An SDK client configured the way RGW needs (path style, checksums only when required). */
  client(creds?: { accessKey: string; secretKey: string }): S3Client;
  /** Creates a bucket with a fresh random name (tests sharing one cluster stay isolated). */
  createBucket(prefix?: string): Promise<string>;
  /** SIGKILLs radosgw only (an S3 endpoint that vanishes mid-request). */
  killGateway(): void;
  stop(): Promise<void>;
}

export const CEPH_BINARIES = ['/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/radosgw', '/usr/bin/radosgw-admin', '/usr/bin/ceph', '/usr/bin/monmaptool'];

/** True when the Ceph packages are installed (CI installs ceph-mon ceph-osd radosgw ceph-common). */
export function cephAvailable(): boolean {
  return CEPH_BINARIES.every((b) => existsSync(b));
}

function cephConf(w: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
mon initial members = a
public network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw defaults to "secure", which needs cephx: without this it never reaches the monitor.
ms mon client mode = crc
run dir = ${w}/run
admin socket = ${w}/run/$name.asok
pid file = ${w}/run/$name.pid
log file = ${w}/log/$name.log
# Without this the monitor still writes /var/log/ceph/ceph.log despite the private config.
mon cluster log file = default=${w}/log/$cluster.$channel.log cluster=${w}/log/$cluster.log
crash dir = ${w}/crash
keyring = ${w}/keyring
mon data = ${w}/mon/$cluster-$id
osd data = ${w}/osd/$cluster-$id
mgr data = ${w}/mgr/$cluster-$id
mon data avail warn = 2
mon data avail crit = 1
# BlueStore on a sparse file: memstore grows ~2x the bytes written and then hangs PUTs when full.
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
osd memory target = 1073741824
osd crush initial weight = 1
osd crush chooseleaf type = 0
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
# Each pool creation otherwise waits ~1-2 s for a paxos round: 19 s to ready instead of 7 s.
paxos propose interval = 0.1

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${w}/rgw
rgw gc obj min wait = 10
rgw gc processor period = 10
`;
}

/** Last lines of every log in the cluster dir: what a failed start must show to be debuggable. */
function logTails(w: string, lines = 25): string {
  const dir = join(w, 'log');
  let files: string[] = [];
  try { files = readdirSync(dir); } catch { return '(no logs)'; }
  return files.sort().map((f) => {
    let text = '';
    try { text = readFileSync(join(dir, f), 'utf8'); } catch { /* vanished */ }
    return `--- ${f}\n${text.split('\n').slice(-lines).join('\n')}`;
  }).join('\n');
}

async function until(what: string, w: string, deadline: number, check: () => Promise<boolean>, daemons: Daemon[]): Promise<void> {
  // Done when the check holds, or when a daemon died (then nothing will change).
  const seen = await waitFor(async () => (daemons.find((d) => d.hasExited()) ?? (await check()) ?? false), `ceph: ${what}`, Math.max(0, deadline - Date.now()), { interval: 150 })
    .catch((e: Error) => { throw new Error(`${e.message}\n${logTails(w)}`); });
  if (seen !== true) throw new Error(`ceph: a daemon (pid ${seen.pid}) exited while waiting for ${what}\n${logTails(w)}`);
  if (process.env.REGWAY_CEPH_TIMING) console.error(`ceph: ${what} at ${new Date().toISOString()}`);
}

export function rgwClient(endpoint: string, accessKey: string, secretKey: string, region = 'us-east-1'): S3Client {
  return new S3Client({
    endpoint, region, forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    // Ceph before Reef rejects the SDK's default aws-chunked bodies with a CRC32 trailer.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Touches every pool RGW creates lazily (bucket index, data, non-ec) so the first test does not pay for it. */
async function smoke(s3: S3Client): Promise<void> {
  const Bucket = `smoke-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket }));
  const body = randomBytes(1024);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'o', Body: body }));
  const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'o' }))).Body!.transformToByteArray());
  if (!got.equals(body)) throw new Error('ceph smoke: GET returned different bytes than PUT');
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'm' }));
  const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'm', UploadId, PartNumber: 1, Body: body }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'm', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'o' }));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'm' }));
  await s3.send(new DeleteBucketCommand({ Bucket }));
}

/**
 * Starts the cluster. Every daemon runs in the foreground under pdeathsig (dies with the test
 * process) and writes only under the temp dir. Rejects with the daemons' log tails on failure.
 */
export async function startCeph(opts: { timeoutMs?: number } = {}): Promise<Ceph> {
  if (!cephAvailable()) throw new Error('ceph is not installed: apt-get install -y ceph-mon ceph-osd radosgw ceph-common');
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  const w = makeTempDir('ceph');
  for (const d of ['run', 'log', 'crash', 'mon', 'osd', 'mgr', 'rgw']) mkdirSync(join(w, d), { recursive: true });
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(w, 'ceph.conf');
  writeFileSync(conf, cephConf(w, fsid, monPort, rgwPort));
  const C = ['-c', conf];
  const env = { ...process.env, CEPH_CONF: conf };
  const daemons: { mon?: Daemon; osd?: Daemon; rgw?: Daemon } = {};
  const started = (): Daemon[] => [daemons.rgw, daemons.osd, daemons.mon].filter((d): d is Daemon => d !== undefined);
  const ceph = (args: string[], timeoutMs = 15_000) => runOk('ceph', [...C, '--connect-timeout', '10', ...args], { env, timeoutMs });
  const stopAll = async () => {
    // Order matters: radosgw hangs for good once the OSD is gone, an OSD waits 5 s for a dead monitor.
    if (daemons.rgw) await stopDaemon(daemons.rgw, 2_000);
    if (daemons.osd) await stopDaemon(daemons.osd, 10_000);
    if (daemons.mon) await stopDaemon(daemons.mon, 10_000);
    removeTempDir(w);
  };
  try {
    await runOk('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(w, 'monmap')], { env, timeoutMs: 15_000 });
    await runOk('ceph-mon', [...C, '--mkfs', '-i', 'a', '--monmap', join(w, 'monmap')], { env, timeoutMs: 30_000 });
    daemons.mon = spawnDaemon('ceph-mon', [...C, '-i', 'a', '-f'], { stdoutFile: join(w, 'log', 'mon.out'), env });
    await until('the monitor', w, deadline, async () => (await run('ceph', [...C, '--connect-timeout', '2', 'mon', 'stat'], { env, timeoutMs: 5_000 })).code === 0, started());

    const osdUuid = randomUUID();
    const id = (await ceph(['osd', 'new', osdUuid])).stdout.trim();
    if (!/^\d+$/.test(id)) throw new Error(`ceph osd new returned ${JSON.stringify(id)}`);
    mkdirSync(join(w, 'osd', `ceph-${id}`), { recursive: true });
    await runOk('ceph-osd', [...C, '-i', id, '--mkfs', '--osd-uuid', osdUuid], { env, timeoutMs: 60_000 });
    daemons.osd = spawnDaemon('ceph-osd', [...C, '-i', id, '-f'], { stdoutFile: join(w, 'log', 'osd.out'), env });
    await until('the OSD to be up', w, deadline, async () => /"num_up_osds":1\b/.test((await ceph(['osd', 'stat', '-f', 'json'], 5_000)).stdout), started());

    // Started only once the OSD is up: started earlier, radosgw backs off while waiting for it and
    // becomes ready later, not sooner (measured: 10.2 s instead of 8.5 s).
    daemons.rgw = spawnDaemon('radosgw', [...C, '-n', 'client.rgw.gw', '-f'], { stdoutFile: join(w, 'log', 'rgw.out'), env });
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('radosgw to listen', w, deadline, async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2_000) })).status > 0, started());

    const accessKey = `AK${randomBytes(9).toString('hex').toUpperCase()}`;
    const secretKey = randomBytes(24).toString('base64url');
    await runOk('radosgw-admin', [...C, 'user', 'create', '--uid=ci', '--display-name=CI user', `--access-key=${accessKey}`, `--secret-key=${secretKey}`], { env, timeoutMs: 30_000 });
    const region = 'us-east-1';
    const client = (creds?: { accessKey: string; secretKey: string }) => rgwClient(endpoint, creds?.accessKey ?? accessKey, creds?.secretKey ?? secretKey, region);
    const admin = client();
    await smoke(admin).catch((e: Error) => { throw new Error(`ceph: S3 smoke pass failed: ${e.name}: ${e.message}\n${logTails(w)}`); });
    return {
      endpoint, accessKey, secretKey, region, dir: w, client,
      createBucket: async (prefix = 'regway') => {
        const name = `${prefix}-${randomBytes(6).toString('hex')}`;
        await admin.send(new CreateBucketCommand({ Bucket: name }));
        return name;
      },
      killGateway: () => { if (daemons.rgw && !daemons.rgw.hasExited()) process.kill(daemons.rgw.pid, 'SIGKILL'); },
      stop: async () => { admin.destroy(); await stopAll(); },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
