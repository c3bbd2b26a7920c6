import Fastify from 'fastify';

const app = Fastify();
const mode = process.argv[2];
app.decorateRequest('bw', undefined);
app.addHook('onRequest', async (request, reply) => {
  if (mode === 'ro') {
    const c = request.routeOptions.config;
  }
  if (mode === 'cfg') {
    const c = request.routeConfig;
  }
  if (mode === 'sock') {
    const a = request.socket.remoteAddress;
  }
  if (mode === 'dec') {
    request.bw = { a: 1 };
  }
});
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(app.server.address().port);
