import type { FieldRejection, RejectionReason, TopicKind } from '@citytel/contract';
import type { Line, TimeSource } from './points.ts';

/** What one message became: points to write, or the reason nothing could be kept. */
export interface Outcome {
  topic: string;
  kind?: TopicKind;
  /** Id or SCK token from the topic: names the sender in logs even when it is not registered. */
  owner: string;
  /** Registry id, when the sender is registered. */
  deviceId?: string;
  /** The payload without the broker's stamp, for the rejection sample. */
  payload: Buffer;
  /** Its points, as the writer takes them (`lineText` gives one as text). */
  lines: Line[];
  readings: number;
  /** Set when the whole message was refused. */
  rejected?: { reason: RejectionReason; detail: string };
  /** Fields dropped from a message whose rest was kept (or explaining a refusal). */
  fields: FieldRejection[];
  /** Readings by the clock their time came from. */
  times: Record<TimeSource, number>;
  /** Readings stored with a quality flag set (contract quality.ts). */
  flagged?: number;
  seen?: { id: string; at: Date; firmware?: string };
}

export function refuse(out: Outcome, reason: RejectionReason, detail: string): Outcome {
  out.rejected = { reason, detail };
  return out;
}

/** `readings[i].` in a batch, nothing for a single reading: built only to name a refused field. */
export const prefixOf = (many: boolean, i: number) => (many ? `readings[${i}].` : '');
