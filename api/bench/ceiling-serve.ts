import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The ceiling of the api benchmark: a bare node:http server in a process of its own, answering every
 * request with the same gzip bytes the api sent for a map. No routing, validation or headers beyond
 * the needed: the fastest this machine moves that answer to the same clients. Prints its port.
 */
const body = readFileSync(process.argv[2]!);
const server = createServer((_req, res) => {
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Encoding': 'gzip',
    'Content-Length': body.length,
  });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
