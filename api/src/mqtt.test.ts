import { describe, expect, it } from 'vitest';
import { topicMatches } from './mqtt.ts';

describe('topic filters (MQTT 3.1.1 §4.7)', () => {
  it.each([
    ['sensors/+/airrohr', 'sensors/kit-1/airrohr', true],
    ['sensors/+/airrohr', 'sensors/kit-1/readings', false],
    ['sensors/#', 'sensors/kit-1/readings', true],
    ['sensors/#', 'sensors', true],
    ['vehicles/+/commands', 'vehicles/car-1/commands/ack', false],
    ['$SYS/citytel/+/+/stats', '$SYS/citytel/broker/b1/stats', true],
    ['+/citytel/+/+/stats', '$SYS/citytel/broker/b1/stats', false],
    ['#', '$SYS/citytel/broker/b1/stats', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});
