import type { ApiMqtt } from '@citytel/api';
import { ACK_SUBSCRIPTION } from '../../api/src/commands/tracker.ts';

/**
 * An api instance's MQTT connection that passes the cars' acks on only while `hears.on`: with it off, the
 * instance can learn that a command ended only from another instance, which is what the multi-instance
 * tests need to prove.
 */
export const ackGate =
  (hears: { on: boolean }) =>
  (m: ApiMqtt): ApiMqtt => ({
    get client() {
      return m.client;
    },
    get connected() {
      return m.connected;
    },
    publish: (topic, payload, o) => m.publish(topic, payload, o),
    subscribe: (filter, handler, o) =>
      m.subscribe(filter, filter === ACK_SUBSCRIPTION ? (t, p) => hears.on && handler(t, p) : handler, o),
    waitConnected: (ms) => m.waitConnected(ms),
    close: () => m.close(),
  });
