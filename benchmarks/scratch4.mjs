import Fastify from 'fastify';

const app = Fastify();
const level = Number(process.argv[2]);
app.addHook('onRequest', async (request, reply) => {
  if (level < 1) return;
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  if (level < 2) return;
  const admitted = await new Promise((admit) => {
    const controller = new AbortController();
    const onGone = () => controller.abort(gone.signal.reason);
    gone.signal.addEventListener('abort', onGone, { once: true });
    admit({ signal: controller.signal, finish: () => gone.signal.removeEventListener('abort', onGone) });
  });
  if (level < 3) return;
  reply.raw.once('close', admitted.finish);
});
if (level >= 4) app.addHook('preHandler', async () => {});
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(app.server.address().port);
