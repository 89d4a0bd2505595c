import { ConfigError } from '@citytel/contract';
import pino, { type Logger } from 'pino';
import { HELP, loadSimConfig, type SimConfig } from './config.ts';
import { provisionLoadDevices, readServiceSecret, runLoad } from './load.ts';
import { startProgress } from './progress.ts';
import { createProvisioner, ProvisionError } from './provision.ts';
import { createSimulator } from './simulator.ts';

function createLogger(level: string): Logger {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0';
  if (!pretty) return pino({ name: 'firmware-sim', level });
  return pino({
    name: 'firmware-sim',
    level,
    transport: {
      target: 'pino-pretty',
      options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    },
  });
}

async function load(config: SimConfig, log: Logger): Promise<void> {
  const s = config.loadSettings;
  let auth: Parameters<typeof runLoad>[0]['auth'];
  if (s.perDevice || s.provision) {
    const provisioner = await createProvisioner(
      { apiUrl: config.apiUrl, adminToken: config.adminToken, stateFile: config.stateFile },
      { log },
    );
    log.info({ devices: s.devices }, 'registering load devices');
    const credentials = await provisionLoadDevices(provisioner, {
      prefix: config.prefix,
      devices: s.devices,
      centre: config.city.centre,
    });
    auth = s.perDevice
      ? { mode: 'per-device', credentials }
      : {
          mode: 'gateway',
          username: 'svc:sim',
          password: readServiceSecret(config.dataDir, config.simSecret),
        };
  } else {
    auth = {
      mode: 'gateway',
      username: 'svc:sim',
      password: readServiceSecret(config.dataDir, config.simSecret),
    };
  }
  const result = await runLoad({
    mqttUrl: config.mqttUrl,
    prefix: config.prefix,
    seed: config.seed,
    log,
    auth,
    ...s,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  let config: SimConfig;
  try {
    if (process.argv.includes('--help') || process.argv.includes('-h')) {
      process.stdout.write(`${HELP}\n`);
      return;
    }
    config = loadSimConfig(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`firmware-sim: ${e.message}\n\n${HELP}`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  if (config.load) {
    await load(config, log);
    return;
  }
  const sim = createSimulator(config, { log });
  const progress = startProgress(sim.stats, log);
  const onSignal = (signal: string) => {
    log.info({ signal }, 'stopping');
    void sim.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await sim.start();
  } catch (e) {
    progress.stop();
    // A provisioning problem is the user's to fix and says how; a stack trace would only hide that.
    log.fatal(e instanceof ProvisionError ? { code: e.code } : { err: e }, (e as Error).message);
    await sim.stop();
    process.exitCode = 1;
    return;
  }
  await sim.done;
  progress.stop();
}

main().then(
  () => setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref(),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
