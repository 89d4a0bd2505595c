/**
 * Where ingest's messages come from. The direct MQTT subscription is one source; a Redis Stream fed by
 * clustered brokers is another (REDIS_URL, a later issue). Both deliver at least once: a message not
 * acknowledged comes back.
 */
export interface SourceMessage {
  topic: string;
  payload: Buffer;
  /** A retained message replayed on subscribe. */
  retain: boolean;
  /** Confirms the message to its source. Called once, after its points are written; a no-op for QoS 0. */
  ack(): void;
}

export interface SourceHandlers {
  onMessage(message: SourceMessage): void;
  /**
   * Asked after each delivery: a promise means "hold on", and the source takes nothing more until it
   * resolves. This is how a full writer slows the broker down instead of buffering without bound.
   */
  backpressure(): Promise<void> | undefined;
}

export interface SourceStats {
  connected: boolean;
  received: number;
  /** Messages delivered and not yet acknowledged. */
  unacked: number;
  acked: number;
  /** True while delivery is held back by backpressure. */
  paused: boolean;
  /** Time spent held back, in total. */
  pausedMs: number;
  reconnects: number;
}

export interface MessageSource {
  /** Connects and subscribes; resolves once messages can flow. */
  start(handlers: SourceHandlers): Promise<void>;
  /** Delivers nothing more; what was delivered can still be acknowledged. */
  pause(): void;
  /** Sends the acknowledgements released so far and disconnects; unacknowledged messages come back later. */
  close(): Promise<void>;
  stats(): SourceStats;
}
