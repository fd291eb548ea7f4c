// The status page in a real headless Chromium (playwright-core): it loads fast, renders upstreams,
// cache, SLO, alerts and top images/clients from the JSON endpoints, refreshes itself, runs under
// its strict CSP without errors, escapes client-controlled text, and fits a phone screen.
// Screenshots go to test-output/obs/ (git-ignored).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startObsGateway, scriptedPull, origin, type ObsGateway } from './setup.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(process.cwd(), 'test-output', 'obs');
const XSS = '<img src=x onerror=alert(1)>';

describe('status page /-/ui in headless Chromium', { skip: !existsSync(CHROMIUM) && 'chromium is not installed (apt-get install -y chromium)' }, () => {
  let up: Distribution;
  let gw: ObsGateway;
  let browser: Browser;

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    up = await startDistribution();
    await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 32 * 1024 });
    await pushImage(up.url, 'team/web', 'v2', { layers: 1, layerSize: 16 * 1024 });
    gw = await startObsGateway(
      { 'registry.example.com': origin(up.url), 'down.example': origin('http://127.0.0.1:1'), 'idle.example': origin('http://127.0.0.1:2') },
      { trustedProxies: ['127.0.0.1'], alerts: { rules: { pullsPerClient: { threshold: 3 } } } },
    );
    for (let i = 0; i < 6; i++) await scriptedPull(gw.url, 'registry.example.com/team/app', 'v1', { 'x-forwarded-for': '192.0.2.10' });
    for (let i = 0; i < 2; i++) await scriptedPull(gw.url, 'registry.example.com/team/web', 'v2', { 'x-forwarded-for': '192.0.2.20' });
    await scriptedPull(gw.url, 'down.example/team/x', 'v1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => { await browser?.close(); await gw?.stop(); await up?.stop(); });

  it('desktop: renders every panel from live data, under its CSP, without console errors', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
    const started = Date.now();
    const res = await page.goto(`${gw.url}/-/ui`);
    assert.equal(res?.status(), 200);
    const html = await res!.text();
    await page.waitForSelector('body[data-loaded="1"]', { timeout: 15_000 });
    t.diagnostic(`page ${html.length} bytes, rendered with data in ${Date.now() - started} ms`);
    assert.ok(html.length < 20_000, `page is small: ${html.length} bytes`);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'no external assets');

    const text = await page.locator('main').innerText();
    assert.match(text, new RegExp(up.url.replace(/[.:/]/g, '\\$&')));
    assert.match(text, /127\.0\.0\.1:1/);
    // Upstreams: a failing one shows its last error and no latency; one never asked is not green.
    const ups = await page.$$eval('#ups tr', (trs) => trs.slice(1).map((tr) => ({
      dot: tr.querySelector('.dot')?.className ?? '', cells: [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent ?? '') })));
    const down = ups.find((u) => u.cells[0]!.includes('127.0.0.1:1'))!;
    assert.match(down.dot, /failing|down/);
    assert.equal(down.cells[2], '–', 'no latency for an upstream that does not answer');
    assert.match(down.cells[3]!, /ECONNREFUSED.*since/);
    const idle = ups.find((u) => u.cells[0]!.includes('127.0.0.1:2'))!;
    assert.deepEqual([idle.dot, idle.cells[3]], ['dot unknown', 'not asked yet']);
    assert.match(ups.find((u) => u.cells[0]!.includes(up.url))!.dot, /\bup\b/);
    assert.match(text, /registry\.example\.com\/team\/app\s+6/);
    assert.match(text, /192\.0\.2\.10\s+6/);
    assert.match(text, /pulls-per-client/);
    assert.equal(await page.locator('#slo tr').count(), 4, 'header + 1h, 24h, 30d');
    assert.match(await page.locator('#slo').innerText(), /1h\s+9\s+1\s/);
    assert.equal(await page.locator('#overall').innerText(), 'SLO at risk');
    // Repository names are validated before they reach the page, but every value is escaped anyway.
    assert.equal(await page.evaluate(`esc(${JSON.stringify(XSS)})`), '&lt;img src=x onerror=alert(1)&gt;');
    await page.screenshot({ path: join(OUT, 'ui-desktop.png'), fullPage: true });

    // Refreshes by itself: new pulls appear without a reload.
    for (let i = 0; i < 3; i++) await scriptedPull(gw.url, 'registry.example.com/team/web', 'v2', { 'x-forwarded-for': '192.0.2.20' });
    await page.waitForFunction(() => [...document.querySelectorAll('#imgs tr')].some((tr) => (tr as HTMLTableRowElement).cells[0]?.textContent === 'registry.example.com/team/web' && (tr as HTMLTableRowElement).cells[1]?.textContent === '5'), undefined, { timeout: 15_000 });
    assert.deepEqual(problems, [], 'no console errors or CSP violations');
    await page.close();
  });

  it('phone: no horizontal overflow, readable panels', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    await page.goto(`${gw.url}/-/ui`);
    await page.waitForSelector('body[data-loaded="1"]', { timeout: 15_000 });
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    assert.ok(scrollWidth <= innerWidth, `page is ${scrollWidth}px wide on a ${innerWidth}px screen`);
    const boxes = await page.locator('section').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ left: r.left, right: r.right })));
    for (const b of boxes) assert.ok(b.left >= 0 && b.right <= 390, `section within the screen: ${JSON.stringify(b)}`);
    const fontSize = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
    assert.ok(fontSize >= 14, `body text ${fontSize}px`);
    await page.screenshot({ path: join(OUT, 'ui-phone.png'), fullPage: true });
    await ctx.close();
  });
});
