import { MAX_PAYLOAD_BYTES } from '@citytel/contract';
import type { Client } from 'aedes';

/**
 * The largest MQTT packet (remaining length) a client may send. A PUBLISH is refused above 64 KiB of
 * payload by authorizePublish, which counts and logs it; this bound sits a little above that (topic,
 * headers, a modest overshoot still reach authorizePublish) and exists so that a client declaring a
 * 100 MB packet is cut off when its length arrives, not after the broker has buffered it.
 */
export const MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 4096;

/** The parts of mqtt-packet's Parser (9.x) the guard touches. */
interface ParserInternals {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(error: Error): void;
}

/**
 * Neither Aedes 1.2 (it builds its parser with `mqtt.parser()` and no options) nor mqtt-packet 9 has a
 * packet size limit, so the client's parser is wrapped: once the fixed header's remaining length is
 * decoded, a packet over the limit is a parser error, which makes Aedes close the connection before the
 * body is read. Returns false when the parser does not look as expected (an Aedes or mqtt-packet upgrade):
 * the broker then logs that the cap is off; authorizePublish still refuses large payloads.
 */
export function capPacketSize(
  client: Client,
  maxBytes: number,
  onTooLarge: (declared: number) => void,
): boolean {
  const parser = (client as unknown as { _parser?: Partial<ParserInternals> })._parser;
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function')
    return false;
  const parseLength = parser._parseLength;
  parser._parseLength = function guardedParseLength(this: ParserInternals): boolean {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      onTooLarge(this.packet.length);
      this._emitError(new Error(`packet of ${this.packet.length} bytes is over the ${maxBytes} byte limit`));
      return false;
    }
    return complete;
  };
  return true;
}
