import { describe, expect, it } from 'vitest';
import { parseTopic, topics } from './topics.ts';

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
