import { chromium } from 'playwright-core';
import { createServer } from 'node:net';
const silent = createServer(() => {}); await new Promise((r) => silent.listen(0, '127.0.0.1', r));
const port = silent.address().port;
const url = process.argv[2];
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--use-angle=swiftshader','--enable-unsafe-swiftshader'] });
const p = await b.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
p.on('pageerror', (e) => console.log('pageerror', e.message));
p.on('console', (m) => { if (!m.text().includes('GPU stall')) console.log('console', m.type(), m.text().slice(0, 150)); });
const t0 = Date.now();
await p.goto(url + `/?basemap=${encodeURIComponent(`http://127.0.0.1:${port}/{z}/{x}/{y}.png`)}`);
await p.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 60000 });
console.log('cells at', Date.now() - t0);
await p.waitForSelector('#note[data-key="basemapOff"]:not([hidden])', { timeout: 30000 });
console.log('note at', Date.now() - t0, await p.evaluate(() => window.citytel.map.getStyle().sources.basemap === undefined));
// language toggle
await p.click('#lang');
console.log('lang', await p.locator('html').getAttribute('lang'), await p.locator('#legend-title').textContent(), await p.locator('label[for=metric-noise_laeq]').textContent(), new URL(p.url()).search);
// find a kit
await p.fill('#find', 'sim-sck-001');
await p.press('#find', 'Enter');
await p.waitForSelector('#panel[data-device="sim-sck-001"]', { timeout: 10000 });
console.log('find ok', await p.locator('#panel-title').textContent());
// 7 days window
await p.click('label[for=window-7d]');
await p.waitForSelector('#panel figure.chart[data-state=ready]');
console.log('chart title', await p.locator('#panel h3').nth(1).textContent(), await p.locator('#panel figure.chart').getAttribute('data-points'));
await p.waitForTimeout(1500);
await p.screenshot({ path: '/tmp/misc.png' });
// keyboard: tab order
await p.keyboard.press('Escape');
console.log('panel hidden after Esc', await p.locator('#panel').isHidden());
const order = [];
await p.focus('body');
for (let i = 0; i < 14; i++) { await p.keyboard.press('Tab'); order.push(await p.evaluate(() => { const a = document.activeElement; return a.id || a.className || a.tagName; })); }
console.log('tab order', order.join(' > '));
await b.close(); silent.close();
