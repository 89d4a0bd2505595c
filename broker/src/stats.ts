import { statsTopic } from '@citytel/contract';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import type { RefusalReason, Refusals } from './refusals.ts';

/**
 * The broker's figures, published as retained JSON on `$SYS/citytel/broker/{BROKER_ID}/stats` for the api's
 * /metrics, and served on the broker's own /metrics (METRICS_PORT). Counters are totals since the broker
 * started; `clients` is a gauge. Their Prometheus names and types are the contract's table (BROKER_FAMILIES in
 * contract/src/process-stats.ts).
 */
export interface BrokerStats {
  broker: string;
  ts: string;
  startedAt: string;
  uptimeS: number;
  /** Connected, authenticated clients now. */
  clients: number;
  connects: number;
  disconnects: number;
  /** PUBLISH packets accepted from clients (wills included), and their payload bytes as forwarded (stamp included). */
  messagesIn: number;
  bytesIn: number;
  /** Messages written to subscribers, retained ones included. */
  messagesOut: number;
  /** QoS 1/2 deliveries the subscriber acknowledged. */
  acks: number;
  refusals: Record<RefusalReason, number>;
}

export interface StatsCollector {
  snapshot(): BrokerStats;
  countForward(): void;
  /** Publishes a snapshot every `intervalMs` until stop(). */
  start(intervalMs: number): void;
  stop(): void;
}

export function createStats(aedes: Aedes, refusals: Refusals, brokerId: string, log: Logger): StatsCollector {
  const startedAt = new Date();
  const n = { connects: 0, disconnects: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, acks: 0 };
  let timer: NodeJS.Timeout | undefined;

  aedes.on('clientReady', () => n.connects++);
  aedes.on('clientDisconnect', () => n.disconnects++);
  aedes.on('ack', () => n.acks++);
  aedes.on('publish', (packet, client) => {
    // client is null for the broker's own messages ($SYS heartbeats, these stats)
    if (!client) return;
    n.messagesIn++;
    n.bytesIn += packet.payload.length;
  });

  const snapshot = (): BrokerStats => {
    const now = new Date();
    return {
      broker: brokerId,
      ts: now.toISOString(),
      startedAt: startedAt.toISOString(),
      uptimeS: Math.round((now.getTime() - startedAt.getTime()) / 1000),
      clients: aedes.connectedClients ?? 0,
      ...n,
      refusals: refusals.counts(),
    };
  };

  const topic = statsTopic('broker', brokerId);
  const publish = () => {
    const payload = Buffer.from(JSON.stringify(snapshot()));
    // server-side publish: bypasses authorizePublish, which lets no client publish under $SYS/
    aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false }, (err) => {
      if (err) log.warn({ err }, 'could not publish stats');
    });
  };

  return {
    snapshot,
    countForward: () => {
      n.messagesOut++;
    },
    start(intervalMs) {
      publish();
      timer = setInterval(publish, intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
