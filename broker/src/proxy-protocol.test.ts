import {
  Command,
  IPv4Address,
  IPv4ProxyAddress,
  TransportProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { describe, expect, it } from 'vitest';
import { ProxyHeaderError, parseProxyHeader } from './proxy-protocol.ts';

const v2 = (command: Command) =>
  Buffer.from(
    new V2ProxyProtocol(
      command,
      TransportProtocol.STREAM,
      new IPv4ProxyAddress(
        IPv4Address.createFrom([203, 0, 113, 7]),
        40000,
        IPv4Address.createFrom([10, 0, 0, 2]),
        1884,
      ),
    ).build(),
  );
const mqttConnect = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c]);

describe('parseProxyHeader', () => {
  it('reads a v1 header and says where MQTT starts', () => {
    const header = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.2 40000 1884\r\n', 'latin1');
    expect(parseProxyHeader(Buffer.concat([header, mqttConnect]))).toEqual({
      length: header.length,
      sourceAddress: '203.0.113.7',
    });
  });

  it('reads a v2 header, and a LOCAL one (the proxy health check) as no address', () => {
    const header = v2(Command.PROXY);
    expect(parseProxyHeader(Buffer.concat([header, mqttConnect]))).toEqual({
      length: header.length,
      sourceAddress: '203.0.113.7',
    });
    expect(parseProxyHeader(v2(Command.LOCAL))).toEqual({ length: header.length });
  });

  it('waits for the rest of a header split anywhere', () => {
    for (const header of [v2(Command.PROXY), Buffer.from('PROXY TCP6 2001:db8::1 ::1 40000 1884\r\n')]) {
      for (let cut = 1; cut < header.length; cut++) {
        expect(parseProxyHeader(header.subarray(0, cut))).toBeUndefined();
      }
      expect(parseProxyHeader(header)?.length).toBe(header.length);
    }
  });

  it('refuses what is no header: MQTT straight away, a bad address, a line too long', () => {
    expect(() => parseProxyHeader(mqttConnect)).toThrow(ProxyHeaderError);
    expect(() => parseProxyHeader(Buffer.from('PROXY TCP4 nowhere 10.0.0.2 1 2\r\n'))).toThrow(
      ProxyHeaderError,
    );
    expect(() => parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`))).toThrow(ProxyHeaderError);
  });
});
