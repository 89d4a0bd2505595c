export { type CarsharingSettings, carsharingEnv } from './config.ts';
export { FLEET_SUBSCRIPTIONS, Fleet, type VehicleLive } from './fleet.ts';
export { fleetSchema, isAvailable } from './fleet-view.ts';
export { requestHash, requireIdempotencyKey } from './idempotency.ts';
export { type Carsharing, carsharingPlugin } from './plugin.ts';
export { bookingRefusal, bookingStatus, type Refusal, vehicleRefusal } from './rules.ts';
export {
  type CommandOutcome,
  type CommandRequest,
  type CommandService,
  createCommandService,
} from './service.ts';
export { ACK_SUBSCRIPTION, type AckOutcome, CommandTracker, isFinal, type TrackerMqtt } from './tracker.ts';
export { bookingSchema, commandSchema, commandView } from './views.ts';
