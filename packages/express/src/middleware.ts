import {
  type Admitted,
  ClientGoneError,
  type ErrorResponse,
  handlerView,
  Refusal,
  type RequestBreakwater,
  respond,
  type ServerOptions,
  type StoredResponse,
  serverPlan,
  storedBody,
  storeResponse,
  watchClient,
} from '@breakwater/http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      /** Set by `breakwater()`: the request's signal, deadline and key. */
      breakwater?: RequestBreakwater;
    }
  }
}

export type BreakwaterOptions = ServerOptions;

function send(res: Response, response: ErrorResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(response.status).set(response.headers).send(JSON.stringify(response.body));
}

/** Records what the handler sends; resolves with it when the response finishes. */
function capture(res: Response, headers: readonly string[]): Promise<StoredResponse> {
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array),
    );
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    keep(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as Response['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    keep(chunk, rest[0]);
    return end(chunk, ...rest);
  }) as Response['end'];
  return new Promise((resolve, reject) => {
    res.once('finish', () =>
      resolve(storeResponse(res.statusCode, res.getHeaders(), Buffer.concat(chunks), headers)),
    );
    res.once('close', () => {
      if (!res.writableFinished) reject(new ClientGoneError());
    });
  });
}

/**
 * Express 5 middleware: runs each request through load shed → rate limit → bulkhead → timeout →
 * idempotency → cache, gives the handler `req.breakwater` (`signal`, `deadline`, `key`), and answers
 * refusals with their status, Retry-After and problem+json. Use it globally (`app.use(breakwater(…))`)
 * or per route.
 */
export function breakwater(options: BreakwaterOptions = {}): RequestHandler {
  const plan = serverPlan('@breakwater/express', options);
  return (req: Request, res: Response, next: NextFunction): void => {
    // The response closing before it finished is the client going away.
    const client = watchClient(res);
    plan
      .admit({ method: req.method, headers: req.headers, remoteAddress: req.socket.remoteAddress }, client)
      .then(
        (admitted: Admitted) => {
          req.breakwater = handlerView(admitted);
          res.once('close', admitted.finish);
          if (admitted.headers !== undefined) res.set(admitted.headers);
          admitted.onLateRefusal((late) => {
            if (!res.writableEnded) send(res, late);
          });
          if (plan.idempotency === undefined && plan.cache === undefined) {
            next();
            return;
          }
          respond(plan, admitted, {
            method: req.method,
            headers: req.headers,
            url: req.originalUrl,
            route: req.baseUrl + req.path,
            body: req.body,
            next: () => next(),
            capture: (headers) => {
              const captured = capture(res, headers);
              next();
              return captured;
            },
            send: (stored, extra) => {
              res.status(stored.status).set(stored.headers).set(extra).end(storedBody(stored));
            },
            refuse: (response) => send(res, response),
            fail: (error) => next(error),
            setHeader: (name, value) => res.setHeader(name, value),
            started: () => res.headersSent,
            gone: () => client.gone,
          });
        },
        (error: unknown) => {
          if (error instanceof Refusal) send(res, error.response);
          else if (!client.gone) next(error);
        },
      );
  };
}
