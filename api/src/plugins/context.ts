import type { Store } from '@citytel/store';
import fp from 'fastify-plugin';
import type { ApiConfig } from '../config.ts';
import type { InfluxClient } from '../influx.ts';
import type { ApiMqtt } from '../mqtt.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: ApiConfig;
    store: Store;
    /** Absent only in tests that build the app without a broker; routes that need it answer 503. */
    mqtt: ApiMqtt | undefined;
    /** Absent only in tests that build the app without InfluxDB. */
    influx: InfluxClient | undefined;
  }
}

export interface ContextOptions {
  config: ApiConfig;
  store: Store;
  mqtt?: ApiMqtt | undefined;
  influx?: InfluxClient | undefined;
}

/** The process's shared parts, as decorators every route plugin reads (`app.store`, `app.mqtt`...). */
export const contextPlugin = fp<ContextOptions>(
  async (app, opts) => {
    app.decorate('config', opts.config);
    app.decorate('store', opts.store);
    app.decorate('mqtt', opts.mqtt);
    app.decorate('influx', opts.influx);
  },
  { name: 'citytel-context', fastify: '5.x' },
);
