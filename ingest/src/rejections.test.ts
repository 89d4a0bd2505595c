import type { Rejection } from '@citytel/store';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Outcome } from './outcome.ts';
import { createRejections, sample } from './rejections.ts';

function outcome(over: Partial<Outcome>): Outcome {
  return {
    topic: 'sensors/kit-1/readings',
    owner: 'kit-1',
    deviceId: 'kit-1',
    payload: Buffer.from('{"pm25":-1}'),
    lines: [],
    readings: 0,
    fields: [],
    times: { device: 0, broker: 0, ingest: 0 },
    ...over,
  };
}

/** A pino logger whose warnings the test reads back. */
function recordingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

describe('rejections', () => {
  it('are counted by reason, messages and fields apart', () => {
    const { log } = recordingLog();
    const r = createRejections({ keep: 100, log });
    r.record(outcome({ rejected: { reason: 'not_json', detail: 'x' } }));
    r.record(outcome({ rejected: { reason: 'not_json', detail: 'x' } }));
    r.record(outcome({ lines: ['l'], fields: [{ field: 'pm25', reason: 'out_of_range', detail: 'x' }] }));
    r.record(outcome({ lines: ['l'] }));
    expect(r.stats()).toEqual({ messages: { not_json: 2 }, fields: { out_of_range: 1 }, rowsDropped: 0 });
  });

  it('are logged once per device per minute, with the count of those left out', () => {
    let t = 0;
    const { log, lines } = recordingLog();
    const r = createRejections({ keep: 100, log, now: () => t });
    for (let i = 0; i < 50; i++) r.record(outcome({ rejected: { reason: 'not_json', detail: 'x' } }));
    r.record(outcome({ deviceId: 'kit-2', owner: 'kit-2', rejected: { reason: 'schema', detail: 'y' } }));
    expect(lines.map((l) => [l.device, l.suppressed])).toEqual([
      ['kit-1', 0],
      ['kit-2', 0],
    ]);
    t = 60_000;
    r.record(outcome({ rejected: { reason: 'not_json', detail: 'x' } }));
    expect(lines.at(-1)).toMatchObject({ device: 'kit-1', suppressed: 49, msg: 'message rejected' });
  });

  it('reach the store in batches, a few per device and minute, with a clean sample', async () => {
    const added: Rejection[][] = [];
    const { log } = recordingLog();
    const r = createRejections({
      store: { add: async (rows) => void added.push(rows), list: async () => [] },
      keep: 20,
      log,
    });
    for (let i = 0; i < 30; i++)
      r.record(
        outcome({
          rejected: { reason: 'malformed', detail: 'bad bytes' },
          payload: Buffer.from([0, 0x41, 7]),
        }),
      );
    r.record(
      outcome({ deviceId: undefined, owner: 'ghost', rejected: { reason: 'unknown_device', detail: 'no' } }),
    );
    await r.flush();
    expect(added).toHaveLength(1);
    expect(added[0]).toHaveLength(10);
    expect(added[0]![0]).toMatchObject({
      deviceId: 'kit-1',
      reason: 'malformed',
      detail: 'bad bytes',
      sample: '\uFFFDA\uFFFD',
    });
  });

  it('keep at most 512 characters of a payload as its sample', () => {
    expect(sample(Buffer.alloc(2000, 'a'))).toHaveLength(512);
    expect(sample(Buffer.alloc(0))).toBeNull();
  });
});
