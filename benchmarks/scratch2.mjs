import { breakwater } from '@breakwater/fastify';
import Fastify from 'fastify';

const app = Fastify();
if (process.argv[2] === 'bw') await app.register(breakwater, { deadline: false });
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(app.server.address().port);
setInterval(() => {
  const m = process.memoryUsage();
  console.error(`heap ${(m.heapUsed / 1e6).toFixed(0)} MB rss ${(m.rss / 1e6).toFixed(0)}`);
}, 2000).unref();
