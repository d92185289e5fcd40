/**
 * How the service talks MQTT, whatever carries it: a real broker over TCP (mqtt-socket.ts) or
 * host-sim's virtual broker (host-sim/fleet/service-run.ts). The service itself never knows which.
 */
export interface InboundMessage {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
}

/**
 * Receives messages in batches. The transport acknowledges a QoS 1 message to the broker only
 * after `deliver` returned for the batch holding it, so whatever `deliver` committed before it
 * returned is what "acknowledged" means: a kill -9 after that loses nothing.
 * `deliver` throwing means "not stored": the transport does not acknowledge the batch and
 * reconnects, so the broker delivers it again.
 */
export type BatchHandler = (batch: InboundMessage[]) => void;

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
}

export interface ServiceTransport {
  /** Sets the handler; call before start(). */
  onBatch(handler: BatchHandler): void;
  /** Connects and subscribes to `filters` (QoS 1); resolves once subscribed the first time. */
  start(filters: string[]): Promise<void>;
  /** Resolves when the broker has the message (PUBACK for QoS 1); survives reconnects. */
  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<void>;
  /** Whether the broker connection is up now. */
  connected(): boolean;
  close(): Promise<void>;
}
