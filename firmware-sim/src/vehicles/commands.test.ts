import { commandAckSchema } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { ack, applyAction, CommandBook } from './commands.ts';

const NOW = Date.parse('2026-11-22T10:15:00Z');
const command = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 'cmd_01JABCDEFGHJK',
    action: 'unlock',
    bookingId: 'bk_123',
    issuedAt: '2026-11-22T10:14:58Z',
    expiresAt: '2026-11-22T10:15:28Z',
    ...over,
  });

describe('command handling', () => {
  it('executes a valid command before it expires', () => {
    const d = new CommandBook().decide(command(), NOW);
    expect(d.kind).toBe('execute');
    if (d.kind === 'execute') expect(d.command.action).toBe('unlock');
  });

  it('refuses a command whose expiresAt is past, with reason expired', () => {
    const book = new CommandBook();
    expect(book.decide(command({ expiresAt: '2026-11-22T10:14:59Z' }), NOW)).toEqual({
      kind: 'expired',
      id: 'cmd_01JABCDEFGHJK',
    });
    // expiresAt exactly now is already too late.
    expect(book.decide(command({ expiresAt: '2026-11-22T10:15:00Z' }), NOW).kind).toBe('expired');
  });

  it('never executes an id twice: a replay gets the first answer again', () => {
    const book = new CommandBook();
    const first = book.decide(command(), NOW);
    expect(first.kind).toBe('execute');
    book.begin('cmd_01JABCDEFGHJK');
    // Replayed while the first run is still going: nothing to do, the first run will answer.
    expect(book.decide(command(), NOW + 100)).toEqual({
      kind: 'replay',
      id: 'cmd_01JABCDEFGHJK',
      ack: undefined,
    });
    const done = ack('cmd_01JABCDEFGHJK', 'done', NOW + 400);
    book.finish('cmd_01JABCDEFGHJK', done);
    expect(book.decide(command(), NOW + 5000)).toEqual({
      kind: 'replay',
      id: 'cmd_01JABCDEFGHJK',
      ack: done,
    });
    // Even after expiry, a replay is answered with the first result, not with `expired`.
    expect(book.decide(command(), NOW + 60_000)).toEqual({
      kind: 'replay',
      id: 'cmd_01JABCDEFGHJK',
      ack: done,
    });
  });

  it('re-acks an expired command the same way when it is replayed', () => {
    const book = new CommandBook();
    const late = NOW + 60_000;
    expect(book.decide(command(), late).kind).toBe('expired');
    const rejected = ack('cmd_01JABCDEFGHJK', 'rejected', late, 'expired');
    book.finish('cmd_01JABCDEFGHJK', rejected);
    expect(book.decide(command(), late + 1)).toEqual({
      kind: 'replay',
      id: 'cmd_01JABCDEFGHJK',
      ack: rejected,
    });
  });

  it('rejects what is not a command, naming the id when it can be read', () => {
    const book = new CommandBook();
    expect(book.decide('{not json', NOW)).toEqual({ kind: 'invalid', reason: 'not_json' });
    expect(book.decide(command({ action: 'honk' }), NOW)).toEqual({
      kind: 'invalid',
      id: 'cmd_01JABCDEFGHJK',
      reason: 'invalid_command',
    });
    expect(book.decide(JSON.stringify({ id: 'nope' }), NOW)).toEqual({
      kind: 'invalid',
      reason: 'invalid_command',
    });
  });

  it('forgets the oldest ids past its capacity', () => {
    const book = new CommandBook(2);
    for (const id of ['cmd_AAAAAAAAAA', 'cmd_BBBBBBBBBB', 'cmd_CCCCCCCCCC'])
      book.finish(id, ack(id, 'done', NOW));
    expect(book.has('cmd_AAAAAAAAAA')).toBe(false);
    expect(book.has('cmd_CCCCCCCCCC')).toBe(true);
  });

  it('unlocks always, locks only with the engine off and the doors closed', () => {
    const parked = { locked: true, ignition: false, doorsClosed: true };
    expect(applyAction(parked, 'unlock')).toEqual({ ok: true, locked: false });
    expect(applyAction({ ...parked, locked: false }, 'lock')).toEqual({ ok: true, locked: true });
    expect(applyAction({ ...parked, ignition: true }, 'lock')).toEqual({ ok: false, reason: 'ignition_on' });
    expect(applyAction({ ...parked, doorsClosed: false }, 'lock')).toEqual({
      ok: false,
      reason: 'doors_open',
    });
  });

  it('answers with acks the contract accepts', () => {
    const a = ack('cmd_01JABCDEFGHJK', 'rejected', NOW, 'expired');
    expect(a).toEqual({
      id: 'cmd_01JABCDEFGHJK',
      status: 'rejected',
      reason: 'expired',
      ts: '2026-11-22T10:15:00.000Z',
    });
    expect(commandAckSchema.safeParse(a).success).toBe(true);
    expect(ack('cmd_01JABCDEFGHJK', 'done', NOW)).not.toHaveProperty('reason');
  });
});
