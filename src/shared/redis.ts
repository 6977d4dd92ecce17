// A Redis client (ioredis), loaded only when REDIS_URL is set: a single-node server, the
// embedded engine's usual case, never needs it and does not keep it in memory (~6 MB;
// docs/ARCHITECTURE.md §5). ioredis is CommonJS, so it loads synchronously here.
import type { Redis, RedisOptions } from 'ioredis';
import { lazyRequire } from './lazy.ts';

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

export function connectRedis(url: string, options: RedisOptions): Redis {
  return new (ioredis().Redis)(url, options);
}

export type { Redis };
