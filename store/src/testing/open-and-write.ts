// A separate process for the concurrency test: opens the store under argv[2] and writes devices
// prefixed with argv[3], the way broker, ingest and api share one file.
import { openStore } from '../index.ts';

const [dataDir, prefix] = process.argv.slice(2);
if (!dataDir || !prefix) throw new Error('usage: open-and-write <dataDir> <prefix>');
const store = await openStore({ dataDir });
const ids = Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);
for (const id of ids) await store.devices.create({ id, kind: i(id) ? 'sck' : 'native' });
await store.touchMany(ids.map((id) => ({ id, at: new Date() })));
await store.rejections.add(
  ids.map((id) => ({ deviceId: id, at: new Date(), topic: 't', reason: 'r', detail: 'd', sample: null })),
);
process.stdout.write(
  `ok ${(await store.devices.list()).filter((d) => d.id.startsWith(`${prefix}-`)).length}\n`,
);
await store.close();

function i(id: string): boolean {
  return Number(id.split('-').pop()) % 2 === 0;
}
