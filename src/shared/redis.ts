// A Redis client (ioredis), loaded only when REDIS_URL is set: a single-node server, the
// embedded engine's usual case, never needs it and does not keep it in memory (~6 MB;
// docs/ARCHITECTURE.md §5). ioredis is CommonJS, so it loads synchronously here.
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

const require = createRequire(import.meta.url);

export function connectRedis(url: string, options: RedisOptions): Redis {
  const { Redis: Client } = require('ioredis') as typeof import('ioredis');
  return new Client(url, options);
}

export type { Redis };
