export { type IngestConfig, ingestEnvSchema, loadIngestConfig } from './config.ts';
export { createDeviceCache, type DeviceCache, type DeviceDirectory } from './devices.ts';
export { writePath } from './influx-write-api.ts';
export type { Outcome } from './outcome.ts';
export { createPipeline, type InboundMessage, type Pipeline } from './pipeline.ts';
export { type Line, lineText, nanos, readingLine, type TimeSource, vehicleLine } from './points.ts';
export { createMqttSource, type MqttSource } from './source/mqtt.ts';
export {
  createRedisStreamSource,
  type RedisStreamSource,
  type RedisStreamSourceOptions,
  type RedisStreamStats,
} from './source/redis-stream.ts';
export type { MessageSource, SourceHandlers, SourceMessage, SourceStats } from './source/types.ts';
export type { IngestStats } from './stats.ts';
export { createIngest, type Ingest, type IngestDeps } from './worker.ts';
export { classifyWriteError } from './write-failures.ts';
export { createWriter, type Writer, type WriterOptions } from './writer.ts';
