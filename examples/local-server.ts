// A throwaway HTTP server on 127.0.0.1 for the examples, so each one runs on its own and shows the
// behaviour it is named for. `handle` gets the 1-based number of the request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function localServer(
  handle: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<{ url: string; requests: () => number; close: () => void }> {
  let n = 0;
  const server = createServer((req, res) => handle(req, res, ++n));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    requests: () => n,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
