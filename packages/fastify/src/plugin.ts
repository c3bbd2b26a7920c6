import {
  type Admitted,
  type ClientConnection,
  ClientGoneError,
  type ErrorResponse,
  handlerView,
  Refusal,
  type RequestBreakwater,
  respond,
  type ServerOptions,
  type ServerPlan,
  type StoredResponse,
  serverPlan,
  storedBody,
  storeResponse,
  watchClient,
} from '@breakwater/http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export type BreakwaterOptions = ServerOptions;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the breakwater plugin on routes it covers: the request's signal, deadline and key. */
    breakwater: RequestBreakwater | undefined;
  }
  interface FastifyContextConfig {
    /** Per-route options, merged over the plugin's; `false` turns the plugin off for the route. */
    breakwater?: BreakwaterOptions | false;
  }
}

function send(reply: FastifyReply, response: ErrorResponse): void {
  if (reply.sent) return;
  void reply.code(response.status).headers(response.headers).send(JSON.stringify(response.body));
}

/** A capture of the handler's response, resolved in `onSend`. */
interface Capture {
  resolve: (r: StoredResponse) => void;
  reject: (e: Error) => void;
  headers: readonly string[];
}

/**
 * `request.breakwater`: what the handler reads (`signal`, made on first read, `deadline`, `key`), and,
 * out of its sight, what admitted the request, for the later hooks: they find it on the request, with
 * no map to look it up in.
 */
class Admission implements RequestBreakwater {
  readonly #plan: ServerPlan;
  readonly #admitted: Admitted;
  readonly #client: ClientConnection;
  #capture: Capture | undefined;
  readonly deadline: number | undefined;
  readonly key: string | undefined;
  constructor(plan: ServerPlan, admitted: Admitted, client: ClientConnection) {
    this.#plan = plan;
    this.#admitted = admitted;
    this.#client = client;
    this.#capture = undefined;
    this.deadline = admitted.deadline;
    this.key = admitted.key;
  }
  get signal(): AbortSignal {
    return this.#admitted.signal;
  }
  static of(value: unknown): Admission | undefined {
    return value instanceof Admission ? value : undefined;
  }
  static parts(admission: Admission) {
    return { plan: admission.#plan, admitted: admission.#admitted, client: admission.#client };
  }
  static setCapture(admission: Admission, capture: Capture | undefined): void {
    admission.#capture = capture;
  }
  static takeCapture(admission: Admission): Capture | undefined {
    const capture = admission.#capture;
    admission.#capture = undefined;
    return capture;
  }
}

type Hook = (...args: never[]) => unknown;
/** A route's hooks with ours first. */
const first = (ours: Hook, theirs: Hook | Hook[] | undefined): Hook[] =>
  theirs === undefined ? [ours] : [ours, ...(Array.isArray(theirs) ? theirs : [theirs])];

const plugin: FastifyPluginAsync<BreakwaterOptions> = async (app, options) => {
  // Validate the plugin's options at registration: a typo fails startup, not the first request.
  const { ...base } = options as BreakwaterOptions & Record<string, unknown>;
  for (const k of ['prefix', 'logLevel', 'logSerializers']) delete (base as Record<string, unknown>)[k];
  const global = serverPlan('@breakwater/fastify', base);
  app.decorateRequest('breakwater', undefined);

  /** Admission: load shed → rate limit → bulkhead → timeout, before the body is read. */
  const admit = async (plan: ServerPlan, request: FastifyRequest, reply: FastifyReply) => {
    const client = watchClient(reply.raw);
    try {
      const admitted = await plan.admit(
        { method: request.method, headers: request.headers, remoteAddress: request.socket.remoteAddress },
        client,
      );
      request.breakwater = new Admission(plan, admitted, client);
      reply.raw.once('close', admitted.finish);
      if (admitted.headers !== undefined) void reply.headers(admitted.headers);
      admitted.onLateRefusal((late) => send(reply, late));
    } catch (error) {
      if (error instanceof Refusal) {
        send(reply, error.response);
        return reply;
      }
      if (client.gone) {
        // Nobody to answer: the handler must not run, and Fastify must not write.
        reply.hijack();
        return reply;
      }
      throw error;
    }
  };

  /** Idempotency and cache, after body parsing so the fingerprint sees the body. */
  const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const admission = Admission.of(request.breakwater);
    if (admission === undefined) return;
    const { plan, admitted, client } = Admission.parts(admission);
    const outcome = await new Promise<'run' | 'sent' | { error: unknown }>((settle) => {
      respond(plan, admitted, {
        method: request.method,
        headers: request.headers,
        url: request.url,
        route: request.routeOptions.url ?? request.url.split('?')[0]!,
        body: request.body,
        next: () => settle('run'),
        capture: (headers) => {
          const captured = new Promise<StoredResponse>((resolve, reject) => {
            Admission.setCapture(admission, { resolve, reject, headers });
            client.onGone(() => reject(new ClientGoneError()));
          });
          settle('run');
          return captured;
        },
        send: (stored, extra) => {
          void reply.code(stored.status).headers(stored.headers).headers(extra).send(storedBody(stored));
          settle('sent');
        },
        refuse: (response) => {
          send(reply, response);
          settle('sent');
        },
        fail: (error) => settle({ error }),
        setHeader: (name, value) => void reply.header(name, value),
        started: () => reply.sent || reply.raw.headersSent,
        gone: () => client.gone,
      });
    });
    if (outcome === 'run') return;
    if (outcome === 'sent') return reply;
    throw outcome.error;
  };

  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const admission = Admission.of(request.breakwater);
    const capture = admission === undefined ? undefined : Admission.takeCapture(admission);
    if (capture !== undefined) {
      const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : '';
      capture.resolve(storeResponse(reply.statusCode, reply.getHeaders(), body, capture.headers));
    }
    return payload;
  };

  // Each route gets its plan when it is added (a bad per-route option fails startup) and only the hooks
  // it needs, first among the route's own: a route without idempotency or a cache pays for neither.
  app.addHook('onRoute', (route) => {
    const own = (route.config as { breakwater?: BreakwaterOptions | false } | undefined)?.breakwater;
    if (own === false) return;
    const plan = own === undefined ? global : serverPlan('@breakwater/fastify', { ...base, ...own });
    const hooks = route as unknown as Record<
      'onRequest' | 'preHandler' | 'onSend',
      Hook | Hook[] | undefined
    >;
    hooks.onRequest = first(
      ((request: FastifyRequest, reply: FastifyReply) => admit(plan, request, reply)) as Hook,
      hooks.onRequest,
    );
    if (plan.idempotency !== undefined || plan.cache !== undefined) {
      hooks.preHandler = first(preHandler as Hook, hooks.preHandler);
      hooks.onSend = first(onSend as Hook, hooks.onSend);
    }
  });
};

/** The Fastify 5 plugin: `app.register(breakwater, options)`, per-route `config: { breakwater }`. */
export const breakwater = fp(plugin, { name: '@breakwater/fastify', fastify: '5.x' });
