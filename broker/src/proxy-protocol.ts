import { isIP, type Socket } from 'node:net';
import {
  Command,
  IPv4ProxyAddress,
  IPv6ProxyAddress,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';

/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) on the broker's proxied listener: a TCP
 * load balancer in front of the brokers (deploy/haproxy.cfg, `send-proxy-v2`) opens each connection with a
 * header naming the device's address. Without it every device would share the proxy's address, and the
 * per-address login slow-down would throttle the whole city after a few wrong passwords.
 */

/** v1 is one text line of at most 107 bytes [proxy-protocol.txt 2.1]. */
const V1_MAX = 107;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v2: 12-byte signature, version/command, family, 16-bit length, then the addresses [2.2]. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
/** Longest v2 header accepted: addresses plus TLVs well beyond what HAProxy sends. */
const V2_MAX = V2_FIXED + 1024;

export class ProxyHeaderError extends Error {
  override name = 'ProxyHeaderError';
}

/** What a complete header says: the peer's address, or none for a LOCAL connection (the proxy's own check). */
export interface ProxyHeader {
  /** Bytes the header took; what follows is MQTT. */
  length: number;
  sourceAddress?: string;
}

/**
 * Parses a PROXY header at the start of `buf`. Undefined while it is incomplete; throws ProxyHeaderError when
 * `buf` cannot begin with one.
 */
export function parseProxyHeader(buf: Buffer): ProxyHeader | undefined {
  if (startsLike(buf, V2_SIGNATURE)) {
    if (buf.length < V2_FIXED) return undefined;
    const length = V2_FIXED + buf.readUInt16BE(14);
    if (length > V2_MAX) throw new ProxyHeaderError(`PROXY v2 header of ${length} bytes`);
    if (buf.length < length) return undefined;
    let header: V2ProxyProtocol;
    try {
      header = V2ProxyProtocol.parse(new Uint8Array(buf.subarray(0, length)));
    } catch (err) {
      throw new ProxyHeaderError(`malformed PROXY v2 header: ${(err as Error).message}`);
    }
    if (header.command === Command.LOCAL) return { length };
    const a = header.proxyAddress;
    if (a instanceof IPv4ProxyAddress) return { length, sourceAddress: a.sourceAddress.address.join('.') };
    if (a instanceof IPv6ProxyAddress) return { length, sourceAddress: ipv6(a.sourceAddress.address) };
    return { length };
  }
  if (startsLike(buf, V1_PREFIX)) {
    const end = buf.indexOf('\r\n', 0, 'latin1');
    if (end < 0) {
      if (buf.length >= V1_MAX) throw new ProxyHeaderError('PROXY v1 header without its CRLF');
      return undefined;
    }
    const length = end + 2;
    if (length > V1_MAX) throw new ProxyHeaderError('PROXY v1 header longer than 107 bytes');
    const line = buf.subarray(0, length).toString('latin1');
    if (line.startsWith('PROXY UNKNOWN')) return { length };
    let source: string;
    try {
      source = V1ProxyProtocol.parse(line).source.ipAddress;
    } catch (err) {
      throw new ProxyHeaderError(`malformed PROXY v1 header: ${(err as Error).message}`);
    }
    // the parser takes any word for an address
    if (!isIP(source)) throw new ProxyHeaderError('malformed PROXY v1 header: source is no IP address');
    return { length, sourceAddress: source };
  }
  throw new ProxyHeaderError('connection does not start with a PROXY protocol header');
}

/**
 * Reads the header off `socket`, puts back what follows it, and hands over the device's address (the
 * socket's own for a LOCAL header). Destroys the socket when the header is bad or late.
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
  onReady: (sourceAddress: string | undefined) => void,
  onRefused: (reason: string) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => fail('no PROXY header in time'), timeoutMs);
  const onData = (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let header: ProxyHeader | undefined;
    try {
      header = parseProxyHeader(buf);
    } catch (err) {
      fail((err as Error).message);
      return;
    }
    if (!header) return;
    done();
    socket.pause();
    if (buf.length > header.length) socket.unshift(buf.subarray(header.length));
    onReady(header.sourceAddress ?? socket.remoteAddress);
    socket.resume();
  };
  const onGone = () => done();
  function done() {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onGone);
  }
  function fail(reason: string) {
    done();
    socket.destroy();
    onRefused(reason);
  }
  socket.on('data', onData);
  socket.once('close', onGone);
}

function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return n > 0 && buf.subarray(0, n).equals(prefix.subarray(0, n));
}

/** Uncompressed (`2001:db8:0:0:...`), which every address parser reads; a mapped IPv4 peer as its IPv4. */
function ipv6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  if (groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff') return bytes.slice(12, 16).join('.');
  return groups.join(':');
}
