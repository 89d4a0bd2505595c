/** Counters of one simulator run, read by the progress line and by tests. */
export interface SimStats {
  kits: number;
  kitsOnline: number;
  vehicles: number;
  vehiclesOnline: number;
  /** MQTT messages published (readings, telemetry, status, acks, hello/info). */
  messages: number;
  /** airrohr HTTP posts accepted by the api. */
  httpPosts: number;
  /** Commands received by the cars, and acks they sent. */
  commands: number;
  acks: number;
  /** Failed publishes, refused posts, refused logins, bad commands. */
  errors: number;
}

export interface Counters {
  messages: number;
  httpPosts: number;
  commands: number;
  acks: number;
  errors: number;
}

export const createCounters = (): Counters => ({
  messages: 0,
  httpPosts: 0,
  commands: 0,
  acks: 0,
  errors: 0,
});
