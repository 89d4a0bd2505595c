// A separate process for the SQLite race test: opens the store under argv[2], waits for the shared start
// time argv[4], then races the other processes for one car's booking, one idempotency key and one
// command's end state. Prints what it won as one JSON line.
import { openStore } from '../index.ts';

const [dataDir, name, startAt, commandId] = process.argv.slice(2);
if (!dataDir || !name || !startAt || !commandId)
  throw new Error('usage: race <dataDir> <name> <startAtMs> <commandId>');
const store = await openStore({ dataDir });
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));

const start = new Date('2026-11-22T10:00:00Z');
const bookings = await Promise.allSettled(
  Array.from({ length: 10 }, (_, i) =>
    store.bookings.create({
      operatorId: 'coop',
      vehicleId: 'car-1',
      memberId: `${name}-${i}`,
      start: new Date(start.getTime() + i * 60_000),
      end: new Date(start.getTime() + 3_600_000 + i * 60_000),
    }),
  ),
);
const command = await store.commands.create({
  vehicleId: 'car-1',
  operatorId: 'coop',
  requestedBy: 'coop',
  bookingId: 'bk_1',
  action: 'unlock',
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 30_000),
  idempotencyKey: 'same-key',
  requestHash: 'h',
});
const finished = await store.commands.transition(
  commandId,
  ['pending', 'sent'],
  'rejected',
  new Date(),
  name,
);
process.stdout.write(
  `${JSON.stringify({
    bookings: bookings.filter((b) => b.status === 'fulfilled').length,
    conflicts: bookings.filter((b) => b.status === 'rejected' && b.reason?.name === 'BookingConflictError')
      .length,
    commandId: command.command.id,
    created: command.created,
    finished: finished !== undefined,
  })}\n`,
);
await store.close();
