import type { Position } from '@citytel/contract';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { City } from '../city.ts';
import { type Clock, Ticker } from '../clock.ts';
import type { Model } from '../model.ts';
import type { KitSpec } from '../plan.ts';
import type { Credentials } from '../provision.ts';
import { hashUnit } from '../rng.ts';
import type { Counters } from '../stats.ts';
import type { RoadGraph } from '../vehicles/routes.ts';

/** What every kit needs from the simulator. */
export interface KitDeps {
  model: Model;
  clock: Clock;
  counters: Counters;
  log: Logger;
  city: City;
  graph: RoadGraph;
  seed: number;
  mqttUrl: string;
  apiUrl: string;
  fetch: typeof fetch;
  /** Kit reporting period in simulated seconds. */
  intervalS: number;
  /** Called once when the platform refuses the kit's credentials; the kit has stopped. */
  onAuthFailure(kit: Kit, reason: string): void;
}

export interface Kit {
  readonly spec: KitSpec;
  /** Id registered with the platform. */
  readonly id: string;
  readonly online: boolean;
  /** Readings sent since start. */
  readonly sent: number;
  start(firstDelayMs?: number): void;
  stop(): Promise<void>;
  /** Measures and sends one reading now; resolves when it has been handed to the network. */
  report(): Promise<void>;
  /** New credentials after a re-registration; restart to use them. */
  setCredentials(c: Credentials): void;
  position(): Position;
}

/**
 * CONNACK codes that retrying cannot change: 2 identifier rejected, 4 bad user name or password, 5 not
 * authorised [MQTT-3.2.2-3] (and their MQTT 5 forms). 3 (server unavailable, e.g. slowed down) is retried.
 */
export const isAuthRefusal = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code;
  return code === 2 || code === 4 || code === 5 || code === 133 || code === 134 || code === 135;
};

/** Reporting period in real ms, with the couple of per cent of drift a kit's own clock has. */
export function periodMs(deps: KitDeps, id: string, n: number): number {
  const drift = 1 + 0.04 * (hashUnit(deps.seed, id, 'period', n) - 0.5);
  return ((deps.intervalS * 1000) / deps.clock.speedup) * drift;
}

/** ISO time without milliseconds, as kit firmware prints it from its RTC. */
export const firmwareTime = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** What every kit shares: its credentials, its reporting ticker, its count of readings sent. */
export abstract class PeriodicKit implements Kit {
  protected creds: Credentials;
  protected readonly log: Logger;
  protected readonly ticker: Ticker;
  private ticks = 0;
  sent = 0;

  constructor(
    readonly spec: KitSpec,
    creds: Credentials,
    protected readonly deps: KitDeps,
  ) {
    this.creds = creds;
    this.log = deps.log.child({ component: 'kit', kit: creds.id });
    this.ticker = new Ticker(
      () => periodMs(deps, this.spec.id, ++this.ticks),
      () => this.report(),
      (e) => {
        deps.counters.errors++;
        this.log.warn({ err: e }, 'report failed');
      },
    );
  }

  get id(): string {
    return this.creds.id;
  }

  abstract get online(): boolean;

  setCredentials(c: Credentials): void {
    this.creds = c;
  }

  position(): Position {
    return this.spec.position;
  }

  abstract start(firstDelayMs?: number): void;
  abstract stop(): Promise<void>;
  abstract report(): Promise<void>;
}

/** The shared life of an MQTT kit: connect, report every period, stop on refused credentials. */
export abstract class MqttKit extends PeriodicKit {
  protected client: MqttClient | undefined;

  get online(): boolean {
    return this.client?.connected ?? false;
  }

  protected abstract connectOptions(): IClientOptions;
  protected abstract onConnect(): void;

  start(firstDelayMs = 0): void {
    const client = mqtt.connect(this.deps.mqttUrl, {
      reconnectPeriod: 5000,
      // As a kit's firmware does: a busy or slowed-down broker (CONNACK 3) is tried again later; only a refused
      // credential (4, 5) stops the device (the error handler).
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      keepalive: 60,
      ...this.connectOptions(),
    });
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('error', (e) => {
      if (isAuthRefusal(e)) {
        this.stopNow();
        this.deps.counters.errors++;
        this.deps.onAuthFailure(this, e.message);
        return;
      }
      this.log.debug({ err: e.message }, 'mqtt error');
    });
    this.ticker.start(firstDelayMs);
  }

  private stopNow(): void {
    this.ticker.stop();
    this.client?.end(true);
    this.client = undefined;
  }

  async stop(): Promise<void> {
    this.ticker.stop();
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync();
  }

  /** Publishes and counts; QoS 0 resolves once written, QoS 1 once acknowledged. */
  protected async publish(topic: string, payload: string, qos: 0 | 1): Promise<void> {
    const c = this.client;
    if (!c) return;
    try {
      await c.publishAsync(topic, payload, { qos });
      this.deps.counters.messages++;
    } catch (e) {
      this.deps.counters.errors++;
      this.log.debug({ err: (e as Error).message, topic }, 'publish failed');
    }
  }
}
