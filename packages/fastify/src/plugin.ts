import {
  type ErrorResponse,
  Refusal,
  type RequestBreakwater,
  type ServerOptions,
  serverPlan,
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
  const perRoute = new Map<object, ReturnType<typeof serverPlan> | undefined>();
  app.decorateRequest('breakwater', undefined);
  app.addHook('onRoute', (route) => {
    const own = (route.config as { breakwater?: BreakwaterOptions | false } | undefined)?.breakwater;
    if (own === undefined) return;
    perRoute.set(route, own === false ? undefined : serverPlan('@breakwater/fastify', { ...base, ...own }));
  });
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config as { breakwater?: BreakwaterOptions | false } | undefined;
    const own = config?.breakwater;
    if (own === false) return;
    let plan = global;
    if (own !== undefined) {
      // Built once per route's config object.
      let cached = perRoute.get(config as object);
      if (cached === undefined) {
        cached = serverPlan('@breakwater/fastify', { ...base, ...own });
        perRoute.set(config as object, cached);
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
};

/** The Fastify 5 plugin: `app.register(breakwater, options)`, per-route `config: { breakwater }`. */
export const breakwater = fp(plugin, { name: '@breakwater/fastify', fastify: '5.x' });
