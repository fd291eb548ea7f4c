// The status page after a restart, in a real headless Chromium (playwright-core, the system's
// chromium; nothing is downloaded): the header's pulls, the SLO panel and the top images and
// clients must show the same numbers before and after, and agree with each other
// (docs/observability.md: the views never disagree).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startObsGateway, scriptedPull, origin, type ObsGateway } from './setup.js';

const CHROMIUM = '/usr/bin/chromium';

interface PageNumbers { header: string; slo1h: string; images: string[][]; clients: string[][] }

/** What a person reads on the page, once it has rendered live data. */
async function read(page: Page, url: string): Promise<PageNumbers> {
  await page.goto(`${url}/-/ui`);
  await page.waitForSelector('body[data-loaded="1"]', { timeout: 15_000 });
  const rows = (id: string): Promise<string[][]> => page.$$eval(`#${id} tr`, (trs) => trs.slice(1).map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent ?? '')));
  const slo = await rows('slo');
  return {
    header: await page.locator('#pulls').innerText(),
    slo1h: slo.find((r) => r[0] === '1h')?.[1] ?? '',
    images: await rows('imgs'),
    clients: await rows('clients'),
  };
}

describe('status page numbers after a restart (headless Chromium)', { skip: !existsSync(CHROMIUM) && 'chromium is not installed (apt-get install -y chromium)' }, () => {
  let up: Distribution;
  let gw: ObsGateway | undefined;
  let browser: BrowserContext;
  let storage: string;
  let profile: string;

  before(async () => {
    up = await startDistribution();
    await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 8 * 1024 });
    await pushImage(up.url, 'team/web', 'v2', { layers: 1, layerSize: 8 * 1024 });
    storage = mkdtempSync(join(tmpdir(), 'regway-ui-restart-'));
    profile = mkdtempSync(join(tmpdir(), 'regway-chromium-'));
    // A fresh profile directory of our own (playwright takes it as the persistent context's user data dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
    await up?.stop();
    rmSync(storage, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  it('header, SLO panel, top images and top clients agree, and are the same after the gateway restarts', async () => {
    const regs = { 'registry.example.com': origin(up.url) };
    const extra = { trustedProxies: ['127.0.0.1'] };
    gw = await startObsGateway(regs, extra, storage);
    for (let i = 0; i < 5; i++) await scriptedPull(gw.url, 'registry.example.com/team/app', 'v1', { 'x-forwarded-for': '192.0.2.10' });
    for (let i = 0; i < 2; i++) await scriptedPull(gw.url, 'registry.example.com/team/web', 'v2', { 'x-forwarded-for': '192.0.2.20' });
    const page = await browser.newPage();
    const before = await read(page, gw.url);
    assert.match(before.header, /^7 pulls in the last hour, 7 in 24 h$/);
    assert.equal(before.slo1h, '7', 'the SLO panel counts the same pulls as the header');
    assert.deepEqual(before.images, [['registry.example.com/team/app', '5'], ['registry.example.com/team/web', '2']]);
    assert.deepEqual(before.clients, [['192.0.2.10', '5'], ['192.0.2.20', '2']]);

    await gw.stop();
    gw = await startObsGateway(regs, extra, storage);
    const restarted = await read(page, gw.url);
    assert.deepEqual(restarted, before);
    assert.match(await page.locator('#since').innerText(), /^up since /);
    await page.close();
  });
});
