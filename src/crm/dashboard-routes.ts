// HTTP: the dashboard's numbers in one call (docs/ARCHITECTURE.md §12.2), for any member.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { inBusiness } from '../server/scope.ts';
import { CONTACT_SOURCES } from './contact-fields.ts';
import { getDashboard } from './dashboard.ts';
import { DEAL_STAGES } from './deals.ts';
import { bidParams } from './schemas.ts';

const money = z.object({ count: z.number(), amount_cents: z.number() });
const dashboardSchema = z.object({
  time_zone: z.string().describe("the business's time zone; months are computed in it"),
  pipeline: z.array(money.extend({ stage: z.enum(DEAL_STAGES) })),
  funded_by_month: z.array(money.extend({ month: z.string().describe('YYYY-MM') })).describe('12 months, oldest first'),
  leads: z.object({
    days: z.number(),
    by_source: z.array(
      z.object({
        source: z.enum(CONTACT_SOURCES),
        leads: z.number().describe('contacts created in the period'),
        applications: z.number().describe('of those, with a deal at application or beyond'),
        funded: z.number().describe('of those, with a funded deal'),
      }),
    ),
  }),
  tasks: z.object({ due_today: z.number(), overdue: z.number() }).describe("the caller's own open tasks"),
  unread_conversations: z.number(),
  checklist: z.object({
    contacts: z.boolean(),
    twilio: z.boolean(),
    teammate: z.boolean(),
    deal: z.boolean(),
    done: z.boolean(),
  }),
});

export function dashboardRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/businesses/:bid/dashboard',
    {
      // The home screen: its transaction's set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags: ['dashboard'],
        security: [{ bearer: [] }],
        summary: 'Pipeline by stage, funded volume by month, leads by source and conversion, my tasks, unread texts',
        params: bidParams,
        querystring: z.object({ days: z.coerce.number().int().min(7).max(365).default(30) }),
        response: { 200: dashboardSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getDashboard(tx, businessId, req.query.days)),
  );
}
