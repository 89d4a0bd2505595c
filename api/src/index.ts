export { type AppDeps, buildApp, type RegisteredRoute, ROUTE_GROUPS } from './app.ts';
export * from './commands/index.ts';
export { type ApiConfig, apiEnvSchema, loadApiConfig, resolveFromInvocation } from './config.ts';
export * from './device-view.ts';
export * from './errors.ts';
export { createInfluxClient, type InfluxClient, InfluxQueryError, type InfluxSeries } from './influx.ts';
export { type ApiMqtt, connectApiMqtt, type MessageHandler, topicMatches, wrapMqttClient } from './mqtt.ts';
export { bearerToken, canManage } from './plugins/auth.ts';
export { PROM_CONTENT_TYPE } from './prom.ts';
