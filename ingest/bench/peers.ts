import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.ts';
import { ensureMosquitto } from './install.ts';
import { cpuSeconds, type NodeProcess, ROOT, spawnNode, spawnProgram } from './processes.ts';

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
 * A pipeline under test: something that takes the readings from a broker and writes them into InfluxDB.
 * The benchmark publishes, watches InfluxDB, and compares peers on the same workload and machine.
 */
export interface Peer {
  name: string;
  start(stack: BenchStack): Promise<void>;
  stop(): Promise<void>;
  /** CPU seconds its processes used so far (the peer's own broker apart, in `brokerCpu`). */
  cpu(): number;
  brokerCpu?(): number;
  /** A peer that brings its own broker (Node-RED on Mosquitto) says where publishers connect. */
  brokerUrl?(): string;
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

/** Where the bench installs Node-RED, on demand and outside the project's dependencies (gitignored). */
const PEER_DIR = join(ROOT, '.bench/peer');
const NODE_RED = join(PEER_DIR, 'node_modules/node-red/red.js');

/**
 * Debian's Mosquitto on 127.0.0.1:`port`, anonymous, in memory, its config written into `dir`; `unbounded`
 * sets `max_queued_messages 0`. Resolves nothing: wait for its 'running' line (`logged('running')`).
 */
export function startMosquitto(dir: string, port: number, unbounded: boolean): NodeProcess {
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      ...(unbounded ? ['max_queued_messages 0'] : []),
      ...(process.env.BENCH_MOSQUITTO_EXTRA ?? '').split(';').filter(Boolean),
      '',
    ].join('\n'),
  );
  return spawnProgram(ensureMosquitto(), ['-c', conf], {}, 'mosquitto');
}

/** Installs Node-RED 4 and node-red-contrib-influxdb into .bench/peer once. */
export function installNodeRed(): void {
  if (existsSync(NODE_RED) && existsSync(join(PEER_DIR, 'node_modules/node-red-contrib-influxdb'))) return;
  mkdirSync(PEER_DIR, { recursive: true });
  if (!existsSync(join(PEER_DIR, 'package.json')))
    writeFileSync(join(PEER_DIR, 'package.json'), '{"name":"citytel-bench-peer","private":true}\n');
  console.log(`installing node-red@4 and node-red-contrib-influxdb into ${PEER_DIR} (once)...`);
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefix', PEER_DIR, 'node-red@4', 'node-red-contrib-influxdb'],
    { stdio: 'inherit' },
  );
}

/**
 * The point a user's flow builds from a native reading: the device from the topic, every number a field,
 * the device's time (ms). The peer has no registry, so no position, geohash or validation: less work.
 */
const FUNCTION_NODE = `
const p = msg.payload;
const fields = { tsrc: 'device' };
for (const k in p) if (typeof p[k] === 'number') fields[k] = p[k];
const ts = Date.parse(p.ts);
msg.payload = {
  measurement: 'readings',
  tags: { device: msg.topic.split('/')[1], kind: 'native', loc: 'fixed' },
  fields,
  timestamp: Number.isNaN(ts) ? Date.now() : ts,
};
return msg;
`;

/**
 * The usual do-it-yourself pipeline: Mosquitto, and Node-RED 4 with node-red-contrib-influxdb — mqtt in
 * (QoS 1, persistent session) → json → function (the point) → join 1 000 → influxdb batch (1.x). Node-RED
 * acknowledges a message when it arrives, so what Mosquitto or Node-RED drop is lost. `unbounded` sets
 * Mosquitto's `max_queued_messages 0`; otherwise its defaults (1 000 queued per client) apply.
 */
export function nodeRedPeer(opts: { unbounded: boolean }): Peer {
  let mosquitto: NodeProcess | undefined;
  let red: NodeProcess | undefined;
  let url = '';
  let dir: string | undefined;
  return {
    name: `Node-RED 4 on Mosquitto (${opts.unbounded ? 'max_queued_messages 0' : 'default queue limits'})`,
    brokerUrl: () => url,
    async start(stack) {
      installNodeRed();
      dir = join(stack.dataDir, '..', `peer-${opts.unbounded ? 'unbounded' : 'default'}-${Date.now()}`);
      mkdirSync(dir, { recursive: true });
      const port = await freePort();
      url = `mqtt://127.0.0.1:${port}`;
      mosquitto = startMosquitto(dir, port, opts.unbounded);
      await mosquitto.logged('running');

      const influx = new URL(stack.influxUrl);
      const flows = [
        { id: 'b0000001', type: 'tab', label: 'bench' },
        {
          id: 'b0000002',
          type: 'mqtt-broker',
          name: 'mosquitto',
          broker: '127.0.0.1',
          port: String(port),
          clientid: 'nodered-bench',
          autoConnect: true,
          usetls: false,
          protocolVersion: '4',
          keepalive: '60',
          cleansession: false,
          autoUnsubscribe: false,
        },
        {
          id: 'b0000003',
          type: 'influxdb',
          hostname: influx.hostname,
          port: influx.port,
          protocol: 'http',
          database: stack.db,
          name: 'bench',
          usetls: false,
          influxdbVersion: '1.x',
        },
        {
          id: 'b0000004',
          type: 'mqtt in',
          z: 'b0000001',
          topic: 'sensors/+/readings',
          qos: '1',
          datatype: 'utf8',
          broker: 'b0000002',
          nl: false,
          rap: false,
          inputs: 0,
          wires: [['b0000005']],
        },
        {
          id: 'b0000005',
          type: 'json',
          z: 'b0000001',
          property: 'payload',
          action: '',
          wires: [['b0000006']],
        },
        {
          id: 'b0000006',
          type: 'function',
          z: 'b0000001',
          func: FUNCTION_NODE,
          outputs: 1,
          wires: [['b0000007']],
        },
        {
          id: 'b0000007',
          type: 'join',
          z: 'b0000001',
          mode: 'custom',
          build: 'array',
          property: 'payload',
          propertyType: 'msg',
          key: 'topic',
          joiner: '\\n',
          joinerType: 'str',
          accumulate: false,
          // The tail of a run (fewer than 1 000) leaves after a second.
          timeout: '1',
          count: '1000',
          reduceRight: false,
          wires: [['b0000008']],
        },
        {
          id: 'b0000008',
          type: 'influxdb batch',
          z: 'b0000001',
          influxdb: 'b0000003',
          precision: 'ms',
          wires: [],
        },
      ];
      writeFileSync(join(dir, 'flows.json'), JSON.stringify(flows));
      writeFileSync(
        join(dir, 'settings.js'),
        `module.exports = ${JSON.stringify({
          uiHost: '127.0.0.1',
          uiPort: await freePort(),
          httpAdminRoot: false,
          httpNodeRoot: false,
          flowFile: 'flows.json',
          credentialSecret: false,
          logging: { console: { level: 'info', metrics: false, audit: false } },
        })};\n`,
      );
      red = spawnProgram(
        process.execPath,
        [NODE_RED, '--settings', join(dir, 'settings.js'), '--userDir', dir, join(dir, 'flows.json')],
        {},
        'node-red',
      );
      await red.logged('Connected to broker', 90_000);
      // The subscription is made right after the connection.
      await new Promise((r) => setTimeout(r, 500));
    },
    async stop() {
      if (process.env.BENCH_DEBUG)
        console.log([...(red?.output ?? []), ...(mosquitto?.output ?? [])].slice(-60).join('\n'));
      await red?.stop();
      await mosquitto?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    cpu: () => cpuSeconds(red?.child.pid),
    brokerCpu: () => cpuSeconds(mosquitto?.child.pid),
  };
}
