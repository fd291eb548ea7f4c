import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import type { StorageDriver } from '../store/driver.js';
import type { MutableMetadataStore } from '../store/metadata.js';
import { HostedContent } from '../hosted/content.js';
import { HostedRepositories } from '../hosted/repositories.js';
import { HostedHttp } from '../hosted/http.js';
import { Uploads } from '../hosted/uploads.js';
import { collectGarbage } from '../hosted/gc.js';

/** Hosted repositories wired from the config: read side, write side, upload sessions, GC. */
export interface HostedParts {
  repos: HostedRepositories;
  http: HostedHttp;
  uploads: Uploads;
  /** Runs GC once now (also on the configured interval). */
  gc(): ReturnType<typeof collectGarbage>;
  /** Applies a reloaded config's hosted settings (upload TTL and size limit, sessions, GC interval and grace). */
  reconfigure(config: Config): void;
  close(): void;
}

/** Undefined when no repository is hosted. */
export async function createHosted(config: Config, driver: StorageDriver, meta: MutableMetadataStore, log: Logger): Promise<HostedParts | undefined> {
  let h = config.hosted;
  if (h.repositories.length === 0) return undefined;
  // Hosted metadata never goes through a shared cache (a fleet's Redis tag cache): a pushed or
  // deleted tag must be visible at once, not after a TTL. `meta` is the store's files, read
  // through this instance's index (written in the same call, so never stale here).
  const content = new HostedContent(driver);
  const repos = new HostedRepositories(content, meta);
  const idleMs = config.limits.idleTimeout;
  const uploads = new Uploads(driver, content, { ttlMs: h.uploadTtl, maxBlobSize: h.maxBlobSize, idleMs, maxSessions: h.maxUploadSessions });
  repos.onDamaged = (d, size, recorded) => log.error({ digest: d.value, size, recorded }, 'hosted content is damaged (its size is not the recorded one): not served; push it again or restore it from a backup');
  const http = new HostedHttp(repos, uploads, { maxBlobSize: h.maxBlobSize, idleMs });
  const purged = await uploads.purgeExpired();
  if (purged) log.info({ purged }, 'removed expired upload sessions');
  const purge = setInterval(() => void uploads.purgeExpired().catch((e: Error) => log.warn({ err: e.message }, 'purging upload sessions failed')), Math.min(h.uploadTtl, 3_600_000));
  purge.unref();
  const gc = async () => {
    const r = await collectGarbage(meta, content, { graceMs: h.gcGrace });
    log.info(r, 'hosted garbage collection done');
    return r;
  };
  let gcTimer: NodeJS.Timeout | undefined;
  const startGc = () => {
    if (gcTimer) clearInterval(gcTimer);
    gcTimer = undefined;
    if (h.gcInterval <= 0) return;
    gcTimer = setInterval(() => void gc().catch((e: Error) => log.warn({ err: e.message }, 'hosted garbage collection failed')), h.gcInterval);
    gcTimer.unref();
  };
  startGc();
  log.info({ patterns: h.repositories }, 'hosted repositories enabled');
  return {
    repos, http, uploads, gc,
    reconfigure: (next) => {
      const gcChanged = next.hosted.gcInterval !== h.gcInterval;
      h = next.hosted;
      uploads.configure({ ttlMs: h.uploadTtl, maxBlobSize: h.maxBlobSize, maxSessions: h.maxUploadSessions });
      http.configure({ maxBlobSize: h.maxBlobSize });
      if (gcChanged) startGc();
    },
    close: () => { clearInterval(purge); if (gcTimer) clearInterval(gcTimer); },
  };
}
