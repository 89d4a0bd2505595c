export { checkPublish, checkSubscribe, type PublishVerdict, type SubscribeVerdict } from './acl.ts';
export { type Broker, type BrokerDeps, type BrokerSettings, createBroker } from './broker.ts';
export { type BrokerConfig, brokerConfigSchema, loadBrokerConfig } from './config.ts';
export type { Identity } from './identity.ts';
export type { Ports } from './listeners.ts';
export { MAX_PACKET_BYTES } from './packet-guard.ts';
export { REFUSAL_REASONS, type RefusalReason } from './refusals.ts';
export type { BrokerStats } from './stats.ts';
export { DEFAULT_THROTTLE, type LoginThrottleOptions } from './throttle.ts';
