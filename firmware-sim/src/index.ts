export { CITIES, type City, RENNES, roadLines } from './city.ts';
export { type Clock, createClock } from './clock.ts';
export {
  flagsToEnv,
  HELP,
  type LoadSettings,
  loadSimConfig,
  type SimConfig,
  simConfig,
  simEnvSchema,
} from './config.ts';
export { AirrohrKit } from './kits/airrohr.ts';
export type { Kit, KitDeps } from './kits/base.ts';
export { NativeKit } from './kits/native.ts';
export { SckKit, sckJson, sckRaw } from './kits/sck.ts';
export {
  type LatencySummary,
  type LoadOptions,
  type LoadResult,
  loadDeviceId,
  provisionLoadDevices,
  readServiceSecret,
  runLoad,
  summarize,
} from './load.ts';
export { createModel, type Model, type SensorValues, type Site } from './model.ts';
export { type KitSpec, type Plan, planFleet, type VehicleSpec } from './plan.ts';
export { formatStats, startProgress } from './progress.ts';
export {
  type Credentials,
  createProvisioner,
  type DeviceRequest,
  nextSuffixedId,
  ProvisionError,
  type Provisioner,
} from './provision.ts';
export { createSimulator, type Simulator, type SimulatorDeps } from './simulator.ts';
export type { SimStats } from './stats.ts';
export { Car, type CarState } from './vehicles/car.ts';
export { ack, applyAction, CommandBook, type Decision } from './vehicles/commands.ts';
export { Vehicle, type VehicleDeps } from './vehicles/obu.ts';
export { makeRoute, pointAt, type Route, roadGraph, routeBetween, shortestPath } from './vehicles/routes.ts';
