// HTTP: the signed-in user's notifications, across her businesses (docs/ARCHITECTURE.md
// §Reminders and notifications). Not under /api/businesses/:bid: the bell shows every
// business she belongs to; each item names its business, and `?business_id=` narrows.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { RouteModule } from '../server/app.ts';
import { userTx } from '../server/scope.ts';
import {
  getSettings,
  listNotifications,
  markRead,
  NOTIFICATION_KINDS,
  putSettings,
  unreadCount,
} from './notifications.ts';
import { notificationStreamRoute } from './stream.ts';

const tags = ['notifications'];
const security = [{ bearer: [] }];

const notificationSchema = z.object({
  id: z.string(),
  business_id: z.string(),
  business_name: z.string(),
  kind: z.enum(NOTIFICATION_KINDS),
  title: z.string(),
  body: z.string(),
  link: z.string().nullable().describe('an in-app path'),
  subject_id: z.string().nullable(),
  created_at: z.string(),
  read_at: z.string().nullable(),
});
const listQuery = z.object({
  cursor: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  unread: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  business_id: z.uuid().optional(),
});
const readBody = z
  .object({
    ids: z.array(z.uuid()).min(1).max(200).optional(),
    all: z.literal(true).optional(),
    business_id: z.uuid().optional(),
  })
  .strict()
  .refine((b) => b.ids !== undefined || b.all === true, 'Say which notifications to mark read (ids) or all');
const settingsSchema = z.object({
  time_zone: z.string().min(1).max(64).describe('IANA time zone of the daily digest'),
  digest_hour: z.number().int().min(0).max(23).describe('local hour the digest is sent'),
  email_kinds: z
    .array(z.enum(NOTIFICATION_KINDS))
    .max(NOTIFICATION_KINDS.length)
    .describe('kinds that also arrive in the daily digest'),
});

export interface NotificationDeps {
  db: Database;
  logger: Logger;
  mailer: Mailer;
  publicUrl: string;
  /** how often a stream looks for news (ms) */
  streamPollMs?: number;
}

export function notificationRoutes(deps: NotificationDeps): RouteModule {
  const { db } = deps;
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();

    app.get(
      '/api/notifications',
      {
        schema: {
          tags,
          security,
          summary: 'My notifications, newest first (keyset paged), with the unread count',
          querystring: listQuery,
          response: {
            200: z.object({
              items: z.array(notificationSchema),
              next_cursor: z.string().nullable(),
              unread_count: z.number(),
            }),
          },
        },
      },
      async (req) =>
        userTx(db, req, async (tx) => {
          const page = await listNotifications(tx, req.query);
          return { items: page.items, next_cursor: page.next_cursor, unread_count: await unreadCount(tx) };
        }),
    );

    app.post(
      '/api/notifications/read',
      {
        schema: {
          tags,
          security,
          summary: 'Mark notifications read: {ids} or {all: true[, business_id]}',
          body: readBody,
          response: { 200: z.object({ updated: z.number(), unread_count: z.number() }) },
        },
      },
      async (req) => userTx(db, req, (tx) => markRead(tx, req.body)),
    );

    app.get(
      '/api/notifications/settings',
      {
        schema: { tags, security, summary: 'My notification email settings', response: { 200: settingsSchema } },
      },
      async (req) => userTx(db, req, (tx) => getSettings(tx)),
    );

    app.put(
      '/api/notifications/settings',
      {
        schema: {
          tags,
          security,
          summary: 'Choose which notifications also arrive by email, in a daily digest at a local hour',
          body: settingsSchema.strict(),
          response: { 200: settingsSchema },
        },
      },
      async (req) => userTx(db, req, (tx) => putSettings(tx, req.body)),
    );

    notificationStreamRoute(app, db, { pollMs: deps.streamPollMs ?? 3000 });
  };
}
