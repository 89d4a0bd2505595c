import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isId } from './ids.ts';
import {
  LEGACY_INGEST_STATS_SUBSCRIPTION,
  parseStatsTopic,
  parseTopic,
  STATS_SUBSCRIPTIONS,
  statsTopic,
  topics,
} from './topics.ts';

describe('topics', () => {
  it('parses every topic of the contract', () => {
    expect(parseTopic(topics.sensorReadings('kit-1'))).toEqual({ kind: 'native', owner: 'kit-1' });
    expect(parseTopic(topics.sensorAirrohr('kit_2'))).toEqual({ kind: 'airrohr', owner: 'kit_2' });
    expect(parseTopic(topics.sckRaw('abc123'))).toEqual({ kind: 'sck-raw', owner: 'abc123' });
    expect(parseTopic(topics.sckJson('abc123'))).toEqual({ kind: 'sck-json', owner: 'abc123' });
    expect(parseTopic(topics.sckHello('abc123'))).toEqual({ kind: 'sck-hello', owner: 'abc123' });
    expect(parseTopic(topics.sckInfo('abc123'))).toEqual({ kind: 'sck-info', owner: 'abc123' });
    expect(parseTopic(topics.vehicleTelemetry('car-9'))).toEqual({
      kind: 'vehicle-telemetry',
      owner: 'car-9',
    });
    expect(parseTopic(topics.vehicleStatus('car-9'))).toEqual({ kind: 'vehicle-status', owner: 'car-9' });
    expect(parseTopic(topics.vehicleCommands('car-9'))).toEqual({ kind: 'vehicle-commands', owner: 'car-9' });
    expect(parseTopic(topics.vehicleAck('car-9'))).toEqual({ kind: 'vehicle-ack', owner: 'car-9' });
  });

  it('refuses what is not a contract topic', () => {
    for (const t of [
      'sensors/kit-1',
      'sensors/kit 1/readings',
      'sensors/+/readings',
      'sensors/kit-1/readings/x',
      'device/sck/ABC123/readings',
      'device/sck/abc12/readings',
      'device/sck/abc123/other',
      'vehicles/car-1/commands/ack/x',
      `sensors/${'a'.repeat(65)}/readings`,
      '$SYS/x',
      '',
    ]) {
      expect(parseTopic(t), t).toBeUndefined();
    }
  });
});

/** parseTopic as it was before its fast path for `sensors/…`: the answers it must keep. */
function parseTopicBefore(topic: string) {
  const p = topic.split('/');
  if (p[0] === 'sensors' && p.length === 3 && isId(p[1]!)) {
    if (p[2] === 'readings') return { kind: 'native', owner: p[1]! };
    if (p[2] === 'airrohr') return { kind: 'airrohr', owner: p[1]! };
    return undefined;
  }
  return p[0] === 'sensors' ? undefined : parseTopic(topic);
}

describe('parseTopic on sensors/…', () => {
  it('answers as splitting the topic did, for any topic', () => {
    const part = fc.oneof(
      fc.constantFrom(
        'sensors',
        'readings',
        'airrohr',
        'kit-1',
        '',
        'readingsx',
        'xreadings',
        'a'.repeat(65),
      ),
      fc.stringMatching(/^[A-Za-z0-9_\-/+#. ]{0,12}$/),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        const topic = parts.join('/');
        expect(parseTopic(topic)).toEqual(parseTopicBefore(topic));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('stats topics', () => {
  it('puts the broker under $SYS/ and ingest, a client, on a platform topic', () => {
    expect(statsTopic('broker', 'b1')).toBe('$SYS/citytel/broker/b1/stats');
    expect(statsTopic('ingest', 'i1')).toBe('citytel/ingest/i1/stats');
  });

  it('parses the topics of STATS_SUBSCRIPTIONS, the former ingest one marked legacy', () => {
    expect(parseStatsTopic(statsTopic('broker', 'b1'))).toEqual({
      process: 'broker',
      instance: 'b1',
      legacy: false,
    });
    expect(parseStatsTopic(statsTopic('ingest', 'i-1'))).toEqual({
      process: 'ingest',
      instance: 'i-1',
      legacy: false,
    });
    expect(parseStatsTopic('$SYS/citytel/ingest/i1/stats')).toEqual({
      process: 'ingest',
      instance: 'i1',
      legacy: true,
    });
    for (const t of [
      'citytel/broker/b1/stats',
      '$SYS/citytel/other/x/stats',
      'citytel/ingest/+/stats',
      'citytel/ingest/a/b/stats',
      '$SYS/citytel/ingest/i1/stats/x',
      'citytel/ingest//stats',
    ])
      expect(parseStatsTopic(t), t).toBeUndefined();
    expect(STATS_SUBSCRIPTIONS).toContain(LEGACY_INGEST_STATS_SUBSCRIPTION);
  });
});
