import {
  type ErrorResponse,
  errorResponse,
  REPLAYED_HEADER,
  Refusal,
  type RequestBreakwater,
  ServerErrorResponse,
  type ServerOptions,
  type ServerPlan,
  type StoredResponse,
  serverPlan,
  storedBody,
  storeResponse,
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
  // Per request: the plan that admitted it (for the preHandler), and the capture of an idempotent run.
  const plans = new WeakMap<object, ServerPlan>();
  const captures = new WeakMap<
    object,
    { resolve: (r: StoredResponse) => void; reject: (e: Error) => void }
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
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort(new Error('the client went away'));
    });
    try {
      const admitted = await plan.admit(
        { method: request.method, headers: request.headers, remoteAddress: request.socket.remoteAddress },
        gone.signal,
      );
      request.breakwater = { signal: admitted.signal, deadline: admitted.deadline, key: admitted.key };
      plans.set(request, plan);
      reply.raw.once('close', admitted.finish);
      admitted.onLateRefusal((late) => send(reply, late));
    } catch (error) {
      if (error instanceof Refusal) {
        send(reply, error.response);
        return reply;
      }
      throw error;
    }
  });
  // Idempotency runs after body parsing, so the fingerprint sees the body.
  app.addHook('preHandler', async (request, reply) => {
    const plan = plans.get(request);
    const idempotency = plan?.idempotency;
    if (idempotency === undefined || request.breakwater === undefined) return;
    const decision = idempotency.decide({
      method: request.method,
      headers: request.headers,
      route: request.routeOptions.url ?? request.url.split('?')[0]!,
      body: request.body,
      tenant: request.breakwater.key,
    });
    if (decision.kind === 'skip') return;
    if (decision.kind === 'refuse') {
      send(reply, decision.response);
      return reply;
    }
    type Next =
      | { kind: 'run' }
      | { kind: 'replay'; response: StoredResponse }
      | { kind: 'error'; error: unknown };
    const next = await new Promise<Next>((decide) => {
      idempotency
        .run(decision, request.breakwater!.signal, () => {
          decide({ kind: 'run' });
          return new Promise<StoredResponse>((resolve, reject) => {
            captures.set(request, { resolve, reject });
            reply.raw.once('close', () => {
              if (!reply.raw.writableFinished) reject(new Error('the client went away'));
            });
          });
        })
        .then(
          ({ replayed, response }) => {
            if (replayed) decide({ kind: 'replay', response });
          },
          (error: unknown) => {
            if (!(error instanceof ServerErrorResponse)) decide({ kind: 'error', error });
          },
        );
    });
    if (next.kind === 'run') return;
    if (next.kind === 'replay') {
      void reply
        .code(next.response.status)
        .headers(next.response.headers)
        .header(REPLAYED_HEADER, 'true')
        .send(storedBody(next.response));
      return reply;
    }
    const refusal = errorResponse(next.error);
    if (refusal === undefined) throw next.error;
    send(reply, refusal);
    return reply;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const capture = captures.get(request);
    if (capture !== undefined) {
      captures.delete(request);
      const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : '';
      capture.resolve(storeResponse(reply.statusCode, reply.getHeaders(), body));
    }
    return payload;
  });
};

/** The Fastify 5 plugin: `app.register(breakwater, options)`, per-route `config: { breakwater }`. */
export const breakwater = fp(plugin, { name: '@breakwater/fastify', fastify: '5.x' });
