import Fastify from 'fastify';

const app = Fastify();
const mode = process.argv[2];
const wm = new WeakMap();
app.addHook('onRequest', async (request, reply) => {
  if (mode === 'wm') wm.set(request, { a: 1 });
  if (mode === 'prop') request.x = { a: 1 };
  if (mode === 'await') await new Promise((r) => r({}));
});
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(app.server.address().port);
