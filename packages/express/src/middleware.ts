import {
  type Admitted,
  type ErrorResponse,
  Refusal,
  type RequestBreakwater,
  type ServerOptions,
  serverPlan,
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

/**
 * Express 5 middleware: runs each request through load shed → rate limit → bulkhead → timeout, gives the
 * handler `req.breakwater` (`signal`, `deadline`, `key`), and answers refusals with their status,
 * Retry-After and problem+json. Use it globally (`app.use(breakwater(…))`) or per route.
 */
export function breakwater(options: BreakwaterOptions = {}): RequestHandler {
  const plan = serverPlan('@breakwater/express', options);
  return (req: Request, res: Response, next: NextFunction): void => {
    const gone = new AbortController();
    // The response closing before it finished is the client going away.
    res.once('close', () => {
      if (!res.writableFinished) gone.abort(new Error('the client went away'));
    });
    plan
      .admit(
        { method: req.method, headers: req.headers, remoteAddress: req.socket.remoteAddress },
        gone.signal,
      )
      .then(
        (admitted: Admitted) => {
          req.breakwater = { signal: admitted.signal, deadline: admitted.deadline, key: admitted.key };
          res.once('close', admitted.finish);
          admitted.onLateRefusal((late) => {
            if (!res.writableEnded) send(res, late);
          });
          next();
        },
        (error: unknown) => {
          if (error instanceof Refusal) send(res, error.response);
          else if (!gone.signal.aborted) next(error);
        },
      );
  };
}
