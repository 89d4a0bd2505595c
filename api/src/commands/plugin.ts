import fp from 'fastify-plugin';
import { type AutoLock, createAutoLock } from './auto-lock.ts';
import type { CarsharingSettings } from './config.ts';
import { Fleet } from './fleet.ts';
import { createOfflinePasses, type OfflinePasses } from './offline-passes.ts';
import { type CommandService, createCommandService } from './service.ts';
import { CommandTracker } from './tracker.ts';

export interface Carsharing {
  settings: CarsharingSettings;
  fleet: Fleet;
  tracker: CommandTracker;
  commands: CommandService;
  autoLock: AutoLock;
  passes: OfflinePasses;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The fleet's live state and the command tracker, shared by the vehicles, bookings and commands routes. */
    carsharing: Carsharing;
  }
}

/**
 * The carsharing parts of one api instance, built from the shared decorators (`app.store`, `app.mqtt`,
 * `app.config`, and `app.cluster` when the api runs as one of several). They listen from `onReady` (so the fleet already has the retained statuses when the
 * first request comes, in tests too) and stop on close; waiting command requests are answered first.
 */
export const carsharingPlugin = fp(
  async (app) => {
    const c = app.config;
    const settings: CarsharingSettings = {
      COMMAND_TTL_S: c.COMMAND_TTL_S,
      BOOKING_GRACE_S: c.BOOKING_GRACE_S,
      COMMAND_END_GRACE_S: c.COMMAND_END_GRACE_S,
      COMMAND_WAIT_MAX_S: c.COMMAND_WAIT_MAX_S,
      COMMAND_SWEEP_MS: c.COMMAND_SWEEP_MS,
      COMMAND_ACK_GRACE_MS: c.COMMAND_ACK_GRACE_MS,
      COMMAND_WAIT_POLL_MS: c.COMMAND_WAIT_POLL_MS,
      LOCK_REFUSE_MOVING: c.LOCK_REFUSE_MOVING,
      LOCK_REFUSE_IGNITION: c.LOCK_REFUSE_IGNITION,
      MOVING_SPEED_KMH: c.MOVING_SPEED_KMH,
      RETURN_STATUS_MAX_AGE_S: c.RETURN_STATUS_MAX_AGE_S,
      AUTO_LOCK_AFTER_S: c.AUTO_LOCK_AFTER_S,
      AUTO_LOCK_SWEEP_MS: c.AUTO_LOCK_SWEEP_MS,
      OFFLINE_WINDOW_H: c.OFFLINE_WINDOW_H,
      OFFLINE_REFRESH_S: c.OFFLINE_REFRESH_S,
    };
    const log = app.log.child({ component: 'carsharing' });
    const fleet = new Fleet(app.mqtt, log);
    const tracker = new CommandTracker({
      store: app.store,
      mqtt: app.mqtt,
      log,
      sweepMs: settings.COMMAND_SWEEP_MS,
      ackGraceMs: settings.COMMAND_ACK_GRACE_MS,
      waitPollMs: settings.COMMAND_WAIT_POLL_MS,
      signal: app.cluster?.commandSignal,
      // The odometer at the first unlock starts the kilometres of the booking (roaming settlement).
      onFinished: (c) => {
        if (c.action !== 'unlock' || c.state !== 'done') return;
        const km = fleet.get(c.vehicleId)?.numbers.odometer_km;
        if (km === undefined) return;
        app.store.bookings
          .setOdometerStart(c.bookingId, km)
          .catch((err) => log.warn({ err, booking: c.bookingId }, 'could not record the odometer at unlock'));
      },
    });
    const commands = createCommandService({ store: app.store, fleet, tracker, settings, log });
    const autoLock = createAutoLock({ store: app.store, fleet, tracker, settings, log });
    const passes = createOfflinePasses({ store: app.store, mqtt: app.mqtt, settings, log });
    app.decorate('carsharing', { settings, fleet, tracker, commands, autoLock, passes });
    app.metrics.addCollector(
      () =>
        tracker.finished.render() +
        tracker.ignoredAcks.render() +
        autoLock.fired.render() +
        passes.published.render() +
        passes.logged.render(),
    );

    app.addHook('onReady', async () => {
      fleet.start();
      await tracker.start();
      autoLock.start();
      passes.start();
    });
    app.addHook('preClose', async () => {
      passes.stop();
      await autoLock.stop();
      await tracker.stop();
      fleet.stop();
    });
  },
  { name: 'citytel-carsharing', fastify: '5.x', dependencies: ['citytel-context', 'citytel-metrics'] },
);
