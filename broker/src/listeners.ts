import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';

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
}

export interface Ports {
  port: number;
  wsPort?: number;
  tlsPort?: number;
}

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
  const onSocket = (socket: Socket) => {
    socket.setNoDelay(true);
    // catches peers that vanished without a FIN between MQTT keepalives (or with keepalive 0)
    socket.setKeepAlive(true, 60_000);
    track(socket, socket.remoteAddress);
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
        track(stream, req.socket.remoteAddress);
      });
      servers.push(http);
      ports.wsPort = await bind(http, options.wsPort, options.host);
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

function bind(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
