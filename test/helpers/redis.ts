// A real redis-server on loopback, private dir, no persistence; killable for degradation tests.
import { join } from 'node:path';
import { freePort } from './ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, killTree } from './proc.js';
import { connect } from 'node:net';
import { waitFor } from './wait.js';

export interface RedisServer { url: string; port: number; stop(): Promise<void>; kill(): void }

/** `password`: start with requirepass (the URL then carries no password: clients must give it). */
export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  const dir = makeTempDir('redis');
  const port = await freePort();
  const auth = opts.password ? ['--requirepass', opts.password] : [];
  const d = spawnDaemon('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...auth], { stdoutFile: join(dir, 'redis.log') });
  const accepts = () => new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
  try { await waitFor(accepts, `redis-server to accept connections on ${port}`, 10_000); } catch (e) {
    killTree(d.pid);
    throw new Error(`redis-server did not start: ${(e as Error).message}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`, port,
    stop: async () => { await stopDaemon(d, 2000); removeTempDir(dir); },
    kill: () => killTree(d.pid, 'SIGKILL'),
  };
}
