// `npm run chaos -- --minutes=10 [--kits=10 --rate=20 --appendfsync=always|everysec]`: the durable
// one-machine set-up under load while its processes are SIGKILLed at random (scripts/chaos/run.ts); ends
// with accepted against stored per kit, and exits 1 if anything acknowledged was lost or doubled.
import { arg } from '../ingest/bench/common.ts';
import { runChaos } from './chaos/run.ts';
import type { AppendFsync } from './redis-server.ts';

const minutes = Number(arg('minutes', '1'));
const result = await runChaos({
  seconds: Math.round(minutes * 60),
  kits: Number(arg('kits', '10')),
  rate: Number(arg('rate', '20')),
  appendfsync: arg('appendfsync', 'always') as AppendFsync,
  progress: (line) => console.log(line),
});
console.table(result.kits);
console.log(
  `chaos: ${result.seconds} s, kills ${Object.entries(result.kills)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ')}; ${result.accepted} readings accepted (PUBACKed), ${result.stored} stored: ` +
    `${result.lost} lost, ${result.doubled} doubled, ${result.unacknowledged} stored without a PUBACK seen ` +
    '(appended, then the broker died before answering: at least once)',
);
process.exit(result.lost === 0 && result.doubled === 0 ? 0 : 1);
