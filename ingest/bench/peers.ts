import { type NodeProcess, spawnNode } from './processes.ts';

/** What a pipeline under test is given: the broker to subscribe to, the InfluxDB to write into. */
export interface BenchStack {
  mqttUrl: string;
  serviceSecret: string;
  dataDir: string;
  influxUrl: string;
  db: string;
  profileDir?: string | undefined;
}

/**
 * A pipeline under test: something that takes the readings from the broker and writes them into InfluxDB.
 * The benchmark publishes, watches InfluxDB, and compares peers on the same workload and machine.
 *
 * The Node-RED peer (a later issue) fits here: `start` runs `node-red` with a flow of an `mqtt in` node
 * (svc:ingest, `sensors/+/readings`, QoS 1, clean session off), a function node mapping the native JSON to
 * points of the same schema, and an `influxdb out` node (1.x, database `stack.db`); `stop` stops it.
 */
export interface Peer {
  name: string;
  start(stack: BenchStack): Promise<void>;
  stop(): Promise<void>;
  /** CPU seconds its processes used so far. */
  cpu(): number;
}

/** Ingest as it runs in production: its own process, `ingest/src/main.ts`, configured by the environment. */
export function ingestPeer(env: Record<string, string> = {}): Peer {
  let proc: NodeProcess | undefined;
  return {
    name: 'citytel ingest',
    async start(stack) {
      proc = spawnNode(
        'ingest/src/main.ts',
        {
          DATA_DIR: stack.dataDir,
          MQTT_URL: stack.mqttUrl,
          MQTT_SERVICE_SECRET: stack.serviceSecret,
          INFLUX_URL: stack.influxUrl,
          INFLUX_DB: stack.db,
          INGEST_ID: 'bench',
          INGEST_STATS_MS: '1000',
          LOG_LEVEL: 'info',
          ...env,
        },
        { profileDir: stack.profileDir, name: 'ingest' },
      );
      await proc.logged('"ingest started"');
    },
    async stop() {
      await proc?.stop();
    },
    cpu: () => proc?.cpu() ?? 0,
  };
}
