import mqtt from 'mqtt';
import type { Logger } from 'pino';

export interface StatsPublisher {
  /** QoS 0; dropped while the broker is away (the next interval publishes fresh figures). */
  publish(topic: string, payload: string, retain: boolean): void;
  close(): Promise<void>;
}

/**
 * In cluster mode ingest reads the Redis Stream and has no broker subscription, but its figures still
 * belong on the stats topic, where the api's /metrics reads them: a clean-session connection that only
 * publishes. It is not needed to ingest, so a broker that is away only costs figures, never a start.
 */
export function createStatsPublisher(opts: {
  url: string;
  clientId: string;
  username: string;
  password: string;
  keepaliveS: number;
  log: Logger;
}): StatsPublisher {
  const client = mqtt.connect(opts.url, {
    clientId: opts.clientId,
    username: opts.username,
    password: opts.password,
    clean: true,
    protocolVersion: 4,
    keepalive: opts.keepaliveS,
    reconnectPeriod: 5000,
    queueQoSZero: false,
  });
  let warned = false;
  client.on('error', (err) => {
    if (!warned)
      opts.log.warn({ err: err.message, url: opts.url }, 'stats not published: broker unreachable');
    warned = true;
  });
  client.on('connect', () => {
    warned = false;
  });
  return {
    publish(topic, payload, retain) {
      if (client.connected) client.publish(topic, payload, { qos: 0, retain });
    },
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
  };
}
