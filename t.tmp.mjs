import { chromium } from 'playwright-core';
const url = process.argv[2];
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--use-angle=swiftshader','--enable-unsafe-swiftshader'] });
for (const q of ['', '?basemap=osm']) {
  const p = await b.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
  const t0 = Date.now();
  await p.goto(url + '/' + q);
  await p.waitForSelector('#map[data-ready="true"]', { timeout: 60000 });
  const r = Date.now() - t0;
  await p.waitForSelector('#map[data-cells-count]', { timeout: 60000 });
  console.log(q || 'plain', 'ready', r, 'cells', Date.now() - t0);
  await p.close();
}
await b.close();
