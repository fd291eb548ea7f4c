import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { driverSuite } from './driver.suite.js';
import { FsDriver } from './fs-driver.js';

driverSuite('filesystem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'regway-fs-'));
  const driver = new FsDriver(dir);
  await driver.init();
  return { driver, cleanup: () => rm(dir, { recursive: true, force: true }) };
});
