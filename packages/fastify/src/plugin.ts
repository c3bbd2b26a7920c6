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
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
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

const plugin: FastifyPluginAsync<BreakwaterOptions> = async (app, options) => {
  // Validate the plugin's options at registration: a typo fails startup, not the first request.
  const { ...base } = options as BreakwaterOptions & Record<string, unknown>;
  for (const k of ['prefix', 'logLevel', 'logSerializers']) delete (base as Record<string, unknown>)[k];
  const global = serverPlan('@breakwater/fastify', base);
  // A route's own plan, by its method(s) and URL: built when the route is added, so a bad per-route
  // option fails startup too; built on first use for a route added some other way.
  const perRoute = new Map<string, ServerPlan>();
  const routeKey = (method: string | readonly string[], url: string) =>
    `${typeof method === 'string' ? method : method.join(',')} ${url}`;
  app.decorateRequest('breakwater', undefined);
  app.addHook('onRoute', (route) => {
    const own = (route.config as { breakwater?: BreakwaterOptions | false } | undefined)?.breakwater;
    if (own === undefined || own === false) return;
    perRoute.set(routeKey(route.method, route.url), serverPlan('@breakwater/fastify', { ...base, ...own }));
  });
  // Per request: what admitted it (for the preHandler), and the capture of a run whose response is kept.
  const admissions = new WeakMap<
    object,
    { plan: ServerPlan; admitted: Admitted; client: ClientConnection }
  >();
  const captures = new WeakMap<
    object,
    { resolve: (r: StoredResponse) => void; reject: (e: Error) => void; headers: readonly string[] }
  >();
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config as { breakwater?: BreakwaterOptions | false } | undefined;
    const own = config?.breakwater;
    if (own === false) return;
    let plan = global;
    if (own !== undefined) {
      const key = routeKey(
        request.routeOptions.method ?? request.method,
        request.routeOptions.url ?? request.url,
      );
      let cached = perRoute.get(key);
      if (cached === undefined) {
        cached = serverPlan('@breakwater/fastify', { ...base, ...own });
        perRoute.set(key, cached);
      }
      plan = cached;
    }
    const client = watchClient(reply.raw);
    try {
      const admitted = await plan.admit(
        { method: request.method, headers: request.headers, remoteAddress: request.socket.remoteAddress },
        client,
      );
      request.breakwater = handlerView(admitted);
      admissions.set(request, { plan, admitted, client });
      reply.raw.once('close', admitted.finish);
      if (admitted.headers !== undefined) void reply.headers(admitted.headers);
      admitted.onLateRefusal((late) => send(reply, late));
    } catch (error) {
      if (error instanceof Refusal) {
        send(reply, error.response);
        return reply;
      }
      if (client.gone) return reply;
      throw error;
    }
  });
  // Idempotency and cache run after body parsing, so the fingerprint sees the body.
  app.addHook('preHandler', async (request, reply) => {
    const admission = admissions.get(request);
    if (admission === undefined) return;
    const { plan, admitted, client } = admission;
    if (plan.idempotency === undefined && plan.cache === undefined) return;
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
            captures.set(request, { resolve, reject, headers });
            reply.raw.once('close', () => {
              if (!reply.raw.writableFinished) reject(new ClientGoneError());
            });
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
        get started() {
          return reply.sent || reply.raw.headersSent;
        },
        get gone() {
          return client.gone;
        },
      });
    });
    if (outcome === 'run') return;
    if (outcome === 'sent') return reply;
    throw outcome.error;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const capture = captures.get(request);
    if (capture !== undefined) {
      captures.delete(request);
      const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : '';
      capture.resolve(storeResponse(reply.statusCode, reply.getHeaders(), body, capture.headers));
    }
    return payload;
  });
};

/** The Fastify 5 plugin: `app.register(breakwater, options)`, per-route `config: { breakwater }`. */
export const breakwater = fp(plugin, { name: '@breakwater/fastify', fastify: '5.x' });
