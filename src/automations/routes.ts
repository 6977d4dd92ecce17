// HTTP: automations under /api/businesses/:bid/automations (docs/ARCHITECTURE.md §25). Every
// member reads; owners and admins create, edit, activate and pause — enforced by 0101's
// policies, these handlers only shape the answers.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database, Tx } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { inBusiness } from '../server/scope.ts';
import { notFound } from '../shared/errors.ts';
import {
  createAutomation,
  ENROLLMENT_STATES,
  getAutomation,
  listAutomations,
  setAutomationStatus,
  updateAutomation,
} from './automations.ts';
import { conditionSchema, definitionSchema, exitSchema, stepSchema, triggerSchema } from './definition.ts';
import { createFromRecipe, listRecipes, RECIPE_KEYS } from './recipes.ts';

const tags = ['automations'];
const security = [{ bearer: [] }];
const bidParams = z.object({ bid: z.uuid() });
const idParams = bidParams.extend({ id: z.uuid() });

const name = z.string().trim().min(1).max(200);
const createBody = definitionSchema.extend({ name });
const patchBody = z.strictObject({
  name: name.optional(),
  trigger: triggerSchema.optional(),
  conditions: z.array(conditionSchema).max(20).optional(),
  steps: z.array(stepSchema).min(1).max(50).optional(),
  exit: exitSchema.partial().optional(),
});

const counts = z.object(
  Object.fromEntries(ENROLLMENT_STATES.map((s) => [s, z.number()])) as Record<
    (typeof ENROLLMENT_STATES)[number],
    z.ZodNumber
  >,
);
const automationSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['draft', 'active', 'paused']),
  version: z.number(),
  recipe: z.string().nullable(),
  trigger: triggerSchema,
  conditions: z.array(conditionSchema),
  steps: z.array(stepSchema),
  exit: exitSchema,
  created_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  activated_at: z.string().nullable(),
  counts,
});
const enrollmentSchema = z.object({
  id: z.string(),
  contact_id: z.string(),
  contact_name: z.string(),
  deal_id: z.string().nullable(),
  version: z.number(),
  state: z.enum(['active', 'paused', 'completed', 'exited', 'failed']),
  step_index: z.number(),
  next_run_at: z.string().nullable(),
  exit_reason: z.string().nullable(),
  error_code: z.string().nullable(),
  enrolled_at: z.string(),
  finished_at: z.string().nullable(),
});

interface EnrollmentRow {
  id: string;
  contact_id: string;
  contact_name: string;
  deal_id: string | null;
  version: number;
  state: z.infer<typeof enrollmentSchema>['state'];
  step_index: number;
  next_run_at: Date;
  exit_reason: string | null;
  error_code: string | null;
  enrolled_at: Date;
  finished_at: Date | null;
}

async function listEnrollments(tx: Tx, businessId: string, automationId: string, state?: string, limit = 100) {
  await getAutomation(tx, businessId, automationId); // 404 for an automation she cannot see
  const r = await tx.query<EnrollmentRow>(
    `SELECT e.id, e.contact_id, btrim(c.first_name || ' ' || c.last_name) AS contact_name, e.deal_id, e.version,
            e.state, e.step_index, e.next_run_at, e.exit_reason, e.error_code, e.enrolled_at, e.finished_at
       FROM app.automation_enrollments e
       JOIN app.contacts c ON c.business_id = e.business_id AND c.id = e.contact_id
      WHERE e.business_id = $1 AND e.automation_id = $2 AND ($3::text IS NULL OR e.state = $3)
      ORDER BY e.enrolled_at DESC, e.id LIMIT $4`,
    [businessId, automationId, state ?? null, limit],
  );
  return r.rows.map((e) => ({
    ...e,
    next_run_at: e.state === 'active' || e.state === 'paused' ? e.next_run_at.toISOString() : null,
    enrolled_at: e.enrolled_at.toISOString(),
    finished_at: e.finished_at?.toISOString() ?? null,
  }));
}

const contactRunSchema = enrollmentSchema.omit({ contact_id: true, contact_name: true }).extend({
  automation_id: z.string(),
  automation_name: z.string(),
  /** Steps in the version the run follows. */
  steps_total: z.number(),
});

interface ContactRunRow extends Omit<EnrollmentRow, 'contact_id' | 'contact_name'> {
  automation_id: string;
  automation_name: string;
  steps_total: number;
}

/** One contact's runs, newest first: the contact page's Automations card. */
async function listContactRuns(tx: Tx, businessId: string, contactId: string, limit = 50) {
  // The contact (trashed ones too) must be hers to see; otherwise the same 404 as a stranger's id.
  const c = await tx.query('SELECT 1 FROM app.contacts WHERE business_id = $1 AND id = $2', [businessId, contactId]);
  if (c.rows.length === 0) throw notFound('contact');
  const r = await tx.query<ContactRunRow>(
    `SELECT e.id, e.automation_id, a.name AS automation_name, e.deal_id, e.version,
            jsonb_array_length(v.definition -> 'steps') AS steps_total,
            e.state, e.step_index, e.next_run_at, e.exit_reason, e.error_code, e.enrolled_at, e.finished_at
       FROM app.automation_enrollments e
       JOIN app.automations a ON a.business_id = e.business_id AND a.id = e.automation_id
       JOIN app.automation_versions v
         ON v.business_id = e.business_id AND v.automation_id = e.automation_id AND v.version = e.version
      WHERE e.business_id = $1 AND e.contact_id = $2
      ORDER BY e.enrolled_at DESC, e.id LIMIT $3`,
    [businessId, contactId, limit],
  );
  return r.rows.map((e) => ({
    ...e,
    next_run_at: e.state === 'active' || e.state === 'paused' ? e.next_run_at.toISOString() : null,
    enrolled_at: e.enrolled_at.toISOString(),
    finished_at: e.finished_at?.toISOString() ?? null,
  }));
}

export function automationRoutes(db: Database, onActivated?: () => Promise<void>): RouteModule {
  return (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/automations';

    app.get(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Automations with their enrollment counts (any member)',
          params: bidParams,
          response: { 200: z.object({ items: z.array(automationSchema) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listAutomations(tx, businessId)),
      }),
    );

    app.post(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Create a draft automation {name, trigger, conditions, steps, exit} (owners and admins)',
          params: bidParams,
          body: createBody,
          response: { 201: automationSchema },
        },
      },
      async (req, reply) =>
        reply
          .status(201)
          .send(
            await inBusiness(db, req, req.params.bid, ({ tx, businessId, userId }) =>
              createAutomation(tx, { userId }, businessId, req.body),
            ),
          ),
    );

    app.get(
      `${base}/recipes`,
      {
        schema: {
          tags,
          security,
          summary: 'The recipes on offer: key, name and what each does (every member)',
          params: bidParams,
          response: {
            200: z.object({ items: z.array(z.object({ key: z.string(), name: z.string(), about: z.string() })) }),
          },
        },
      },
      // Through the request transaction like every route: a non-member gets the same 404.
      async (req) => ({ items: await inBusiness(db, req, req.params.bid, async () => listRecipes()) }),
    );

    app.post(
      `${base}/recipes/:key`,
      {
        schema: {
          tags,
          security,
          summary: `Create a draft automation and its text templates from a recipe (${RECIPE_KEYS.join(', ')}; owners and admins)`,
          params: bidParams.extend({ key: z.string().max(40) }),
          response: { 201: automationSchema },
        },
      },
      async (req, reply) =>
        reply
          .status(201)
          .send(
            await inBusiness(db, req, req.params.bid, ({ tx, businessId, userId }) =>
              createFromRecipe(tx, { userId }, businessId, req.params.key),
            ),
          ),
    );

    app.get(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary: 'One automation: its current version and enrollment counts',
          params: idParams,
          response: { 200: automationSchema },
        },
      },
      async (req) =>
        inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getAutomation(tx, businessId, req.params.id)),
    );

    app.patch(
      `${base}/:id`,
      {
        schema: {
          tags,
          security,
          summary:
            'Rename and/or change the definition (owners and admins); a changed definition is a new version for new enrollments, running ones finish on theirs',
          params: idParams,
          body: patchBody,
          response: { 200: automationSchema },
        },
      },
      async (req) =>
        inBusiness(db, req, req.params.bid, async ({ tx, businessId, userId }) => {
          const { name: newName, ...parts } = req.body;
          let definition;
          if (Object.values(parts).some((v) => v !== undefined)) {
            const current = await getAutomation(tx, businessId, req.params.id);
            definition = {
              trigger: parts.trigger ?? current.trigger,
              conditions: parts.conditions ?? current.conditions,
              steps: parts.steps ?? current.steps,
              exit: { ...current.exit, ...parts.exit },
            };
          }
          return updateAutomation(tx, { userId }, businessId, req.params.id, { name: newName, definition });
        }),
    );

    for (const action of ['activate', 'pause'] as const)
      app.post(
        `${base}/:id/${action}`,
        {
          schema: {
            tags,
            security,
            summary:
              action === 'activate'
                ? 'Activate (from draft or paused; owners and admins): triggers start enrolling, held enrollments go on'
                : 'Pause (owners and admins): no new enrollments, running ones hold at their step',
            params: idParams,
            response: { 200: automationSchema },
          },
        },
        async (req) => {
          const a = await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
            setAutomationStatus(tx, businessId, req.params.id, action === 'activate' ? 'active' : 'paused'),
          );
          if (action === 'activate') await onActivated?.().catch(() => undefined);
          return a;
        },
      );

    app.get(
      `${base}/:id/enrollments`,
      {
        schema: {
          tags,
          security,
          summary: 'Enrollments of an automation, newest first (any member); ?state= filters',
          params: idParams,
          querystring: z.object({
            state: z.enum(ENROLLMENT_STATES as [string, ...string[]]).optional(),
            limit: z.coerce.number().int().min(1).max(500).default(100),
          }),
          response: { 200: z.object({ items: z.array(enrollmentSchema) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
          listEnrollments(tx, businessId, req.params.id, req.query.state, req.query.limit),
        ),
      }),
    );

    app.get(
      '/api/businesses/:bid/contacts/:id/automations',
      {
        schema: {
          tags,
          security,
          summary: "A contact's automation runs, newest first, with the automation's name (any member)",
          params: idParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
          response: { 200: z.object({ items: z.array(contactRunSchema) }) },
        },
      },
      async (req) => ({
        items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
          listContactRuns(tx, businessId, req.params.id, req.query.limit),
        ),
      }),
    );
  };
}
