// GET /api/notifications/stream — server-sent events for the bell (docs/SECURITY.md
// §Notification stream). The browser reads it with fetch() and a ReadableStream, sending
// the same `Authorization: Bearer` header as every API call, so no token ever travels in
// a URL (EventSource cannot set headers). Each poll runs in the caller's own RLS
// transaction with the live-session check, so a revoked session ends the stream at the
// next poll; the stream also ends when the access token expires (the client reconnects
// with a fresh one), and a user may hold at most MAX_STREAMS_PER_USER per node.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/index.ts';
import { callerOf } from '../server/authenticate.ts';
import { userTx } from '../server/scope.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import { newestNotificationAt, notificationsSince, STREAM_LOOK_BACK_SECONDS, unreadCount } from './notifications.ts';

export const MAX_STREAMS_PER_USER = 5;
const HEARTBEAT_MS = 25_000;
/** Notifications sent per poll at most; a larger burst is fetched in further batches at once. */
const STREAM_BATCH = 100;

export interface StreamOptions {
  pollMs: number;
}

/** exp (seconds) of the bearer token the auth hook already verified. */
function tokenExpiry(request: FastifyRequest): number | undefined {
  const m = /^Bearer\s+([^.\s]+)\.([^.\s]+)\./i.exec(request.headers.authorization ?? '');
  if (!m) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

export function notificationStreamRoute(app: FastifyInstance, db: Database, options: StreamOptions): void {
  const open = new Map<string, Set<() => void>>();
  app.addHook('preClose', async () => {
    for (const set of open.values()) for (const end of [...set]) end();
  });

  app.get(
    '/api/notifications/stream',
    {
      schema: {
        tags: ['notifications'],
        security: [{ bearer: [] }],
        summary:
          'Server-sent events: `unread` {count} at once and on change, `notification` for each new one. ' +
          'Authenticate with the Authorization header (read it with fetch, not EventSource).',
        produces: ['text/event-stream'],
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const claims = callerOf(request);
      const mine = open.get(claims.sub) ?? new Set<() => void>();
      if (mine.size >= MAX_STREAMS_PER_USER)
        throw new AppError('rate_limited', 'Too many open notification streams; close another tab');
      // First poll before hijacking: a dead session or bad token answers as a normal 401.
      const first = await userTx(db, request, async (tx) => ({
        count: await unreadCount(tx),
        latest: await newestNotificationAt(tx),
      }));

      reply.hijack();
      const res = reply.raw;
      const headers: Record<string, string | number | string[]> = {};
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string;
      res.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('unread', { count: first.count });

      // What this stream has sent: every notification after `floor`, each once (see notificationsSince).
      const floor = first.latest ?? '-infinity';
      let newest: number | null = null;
      const sent = new Map<string, number>();
      let lastCount = first.count;
      let ended = false;
      const timers: NodeJS.Timeout[] = [];
      const end = () => {
        if (ended) return;
        ended = true;
        timers.forEach(clearTimeout);
        timers.forEach(clearInterval);
        mine.delete(end);
        if (mine.size === 0) open.delete(claims.sub);
        res.end();
      };
      mine.add(end);
      open.set(claims.sub, mine);
      request.raw.on('close', end);

      const exp = tokenExpiry(request);
      const lifetime = exp ? Math.max(1000, exp * 1000 - Date.now()) : 600_000;
      timers.push(
        setTimeout(() => {
          send('reauth', { reason: 'token_expired' });
          end();
        }, lifetime),
      );
      timers.push(setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS));

      let polling = false;
      const poll = async () => {
        if (ended || polling) return;
        polling = true;
        try {
          const next = await userTx(db, request, async (tx) => ({
            fresh: await notificationsSince(tx, { floor, newest, sent: [...sent.keys()], limit: STREAM_BATCH }),
            count: await unreadCount(tx),
          }));
          if (ended) return;
          for (const { t, ...n } of next.fresh) {
            send('notification', n);
            sent.set(n.id, t);
            if (newest === null || t > newest) newest = t;
          }
          // Ids older than the window can no longer come back: forget them.
          for (const [id, t] of sent) if (t <= newest! - STREAM_LOOK_BACK_SECONDS) sent.delete(id);
          if (next.count !== lastCount || next.fresh.length > 0) send('unread', { count: next.count });
          lastCount = next.count;
          // A burst larger than one batch: fetch the rest at once rather than a poll later.
          if (next.fresh.length === STREAM_BATCH) setImmediate(() => void poll());
        } catch (e) {
          // A revoked session (or a business left) ends the stream; the client re-authenticates.
          if (isAppError(e) && e.status === 401) send('reauth', { reason: e.code });
          else request.log.warn({ err: e }, 'notification stream poll failed');
          end();
        } finally {
          polling = false;
        }
      };
      timers.push(setInterval(() => void poll(), options.pollMs));
    },
  );
}
