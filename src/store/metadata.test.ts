// DriverMetadataStore over the memory and the filesystem driver: the metadata conformance suite,
// deletes included (hosted repositories use it as their MutableMetadataStore).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mutableMetadataStoreSuite } from './metadata.suite.js';
import { DriverMetadataStore } from './metadata.js';
import { MemoryDriver } from './memory-driver.js';
import { FsDriver } from './fs-driver.js';

mutableMetadataStoreSuite('driver metadata over the memory driver', async () => ({ store: new DriverMetadataStore(new MemoryDriver()), cleanup: async () => {} }));

mutableMetadataStoreSuite('driver metadata over the filesystem driver', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'regway-meta-'));
  const driver = new FsDriver(dir);
  await driver.init();
  return { store: new DriverMetadataStore(driver), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

// A cache of one entry: every read past the first goes to the driver, so the contract holds without the cache's help.
mutableMetadataStoreSuite('driver metadata with a one-entry cache', async () => ({ store: new DriverMetadataStore(new MemoryDriver(), { maxCached: 1 }), cleanup: async () => {} }));
