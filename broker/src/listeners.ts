import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer, isIP, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { readProxyHeader } from './proxy-protocol.ts';

/**
 * The broker's network listeners: TCP, and optionally TLS and WebSocket, each handing its connections to
 * `onConnection` (Aedes). Written out rather than through aedes-server-factory so the WebSocket frame size
 * is bounded (ws accepts 100 MiB by default) and every open connection is known for shutdown, including
 * those still waiting to authenticate, which Aedes does not track.
 */
export interface ListenerOptions {
  host: string;
  port: number;
  wsPort?: number | undefined;
  tlsPort?: number | undefined;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  /** Largest WebSocket message accepted. */
  maxWsMessageBytes: number;
  /** A TCP listener for a load balancer that opens each connection with a PROXY protocol header. */
  proxyPort?: number | undefined;
  /** WebSocket upgrades come through a reverse proxy: the peer's address is the last X-Forwarded-For hop. */
  wsTrustProxy?: boolean | undefined;
  /** A connection on the proxied listener that sent no valid header; it has been closed. */
  onProxyRefused?: (reason: string, remoteAddress: string | undefined) => void;
}

export interface Ports {
  port: number;
  wsPort?: number;
  tlsPort?: number;
  proxyPort?: number;
}

/** A load balancer sends its header at once; a connection silent this long is not one of its. */
const PROXY_HEADER_TIMEOUT_MS = 5000;

export type ConnectionHandler = (stream: Duplex, remoteAddress: string | undefined) => void;

export function createListeners(options: ListenerOptions, onConnection: ConnectionHandler) {
  const open = new Set<Duplex>();
  const servers: Array<Server | HttpServer> = [];
  let wss: WebSocketServer | undefined;

  const track = (stream: Duplex, remoteAddress: string | undefined) => {
    open.add(stream);
    stream.once('close', () => open.delete(stream));
    onConnection(stream, remoteAddress);
  };
  const tune = (socket: Socket) => {
    socket.setNoDelay(true);
    // catches peers that vanished without a FIN between MQTT keepalives (or with keepalive 0)
    socket.setKeepAlive(true, 60_000);
  };
  const onSocket = (socket: Socket) => {
    tune(socket);
    track(socket, socket.remoteAddress);
  };
  const onProxiedSocket = (socket: Socket) => {
    tune(socket);
    // counted as open from the start, so shutdown also closes connections still sending their header
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    readProxyHeader(
      socket,
      PROXY_HEADER_TIMEOUT_MS,
      (address) => onConnection(socket, address),
      (reason) => options.onProxyRefused?.(reason, socket.remoteAddress),
    );
  };

  async function listen(): Promise<Ports> {
    const tcp = createNetServer(onSocket);
    servers.push(tcp);
    const ports: Ports = { port: await bind(tcp, options.port, options.host) };

    if (options.tlsPort !== undefined && options.tlsCertFile && options.tlsKeyFile) {
      const tls = createTlsServer(
        { cert: readFileSync(options.tlsCertFile), key: readFileSync(options.tlsKeyFile) },
        onSocket,
      );
      servers.push(tls);
      ports.tlsPort = await bind(tls, options.tlsPort, options.host);
    }

    if (options.wsPort !== undefined) {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { Upgrade: 'websocket', 'Content-Type': 'text/plain' });
        res.end('MQTT over WebSocket: connect with a WebSocket client (subprotocol mqtt)\n');
      });
      wss = new WebSocketServer({ server: http, maxPayload: options.maxWsMessageBytes });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        const forwarded = options.wsTrustProxy ? lastForwardedFor(req.headers['x-forwarded-for']) : undefined;
        track(stream, forwarded ?? req.socket.remoteAddress);
      });
      servers.push(http);
      ports.wsPort = await bind(http, options.wsPort, options.host);
    }
    if (options.proxyPort !== undefined) {
      const proxied = createNetServer(onProxiedSocket);
      servers.push(proxied);
      ports.proxyPort = await bind(proxied, options.proxyPort, options.host);
    }
    return ports;
  }

  /** Stops accepting; the connections themselves are closed by `dropAll` once Aedes has closed its clients. */
  function stopAccepting(): Promise<void> {
    wss?.close();
    return Promise.all(
      servers.map(
        (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
      ),
    ).then(() => undefined);
  }

  function dropAll(): void {
    for (const stream of open) stream.destroy();
    open.clear();
  }

  return {
    listen,
    stopAccepting,
    dropAll,
    get connections() {
      return open.size;
    },
  };
}

/** The hop the proxy itself appended: earlier ones are whatever the client claimed. */
function lastForwardedFor(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.at(-1) : header;
  const last = value?.split(',').at(-1)?.trim();
  return last && isIP(last) ? last : undefined;
}

function bind(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
