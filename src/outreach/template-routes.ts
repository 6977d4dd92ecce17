// HTTP: templates under /api/businesses/:bid/templates (docs/ARCHITECTURE.md "Templates").
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { inBusiness } from '../server/scope.ts';
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  previewTemplate,
  updateTemplate,
} from './templates.ts';

const tags = ['templates'];
const security = [{ bearer: [] }];
const bidParams = z.object({ bid: z.uuid() });
const idParams = bidParams.extend({ id: z.uuid() });
const channel = z.enum(['sms', 'email']);
const name = z.string().trim().min(1, 'name is required').max(200);
const subject = z.string().trim().min(1).max(500);
const body = z.string().min(1, 'body is required').max(50_000);

const templateCreate = z.strictObject({ name, channel, subject: subject.nullish(), body });
const templateUpdate = z.strictObject({ name: name.optional(), subject: subject.nullish(), body: body.optional() });

export const templateSchema = z.object({
  id: z.string(),
  name: z.string(),
  channel,
  subject: z.string().nullable(),
  body: z.string(),
  created_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  can_edit: z.boolean(),
});

export const previewSchema = z.object({
  channel,
  subject: z.string().optional(),
  text: z.string(),
  html: z.string().optional(),
  encoding: z.enum(['GSM-7', 'UCS-2']).optional(),
  segments: z.number().optional(),
  characters: z.number().optional(),
});

export function templateRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/templates';

  app.get(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Templates of the business (any member)',
        params: bidParams,
        querystring: z.object({ channel: channel.optional() }),
        response: { 200: z.object({ items: z.array(templateSchema) }) },
      },
    },
    async (req) => ({
      items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listTemplates(tx, businessId, req.query.channel),
      ),
    }),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary:
          'Create a template (any member). Merge fields are Liquid ({{ contact.first_name | default: "there" }}); an unknown field or filter is 400 invalid_template',
        params: bidParams,
        body: templateCreate,
        response: { 201: templateSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await inBusiness(db, req, req.params.bid, ({ tx, businessId, userId }) =>
            createTemplate(tx, businessId, userId, req.body),
          ),
        ),
  );

  // Declared before /:id so "preview" is never read as an id.
  app.post(
    `${base}/preview`,
    {
      schema: {
        tags,
        security,
        summary: 'Render an unsaved template for one contact (any member)',
        params: bidParams,
        body: templateCreate.omit({ name: true }).extend({ contact_id: z.uuid() }),
        response: { 200: previewSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId, userId }) =>
        previewTemplate(tx, businessId, userId, req.body, req.body.contact_id),
      ),
  );

  app.get(
    `${base}/:id`,
    {
      schema: { tags, security, summary: 'One template', params: idParams, response: { 200: templateSchema } },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getTemplate(tx, businessId, req.params.id)),
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Change a template (its author, an owner or an admin); the channel is fixed',
        params: idParams,
        body: templateUpdate,
        response: { 200: templateSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        updateTemplate(tx, businessId, req.params.id, req.body),
      ),
  );

  app.delete(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Delete a template (its author, an owner or an admin); 409 while campaigns use it',
        params: idParams,
      },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => deleteTemplate(tx, businessId, req.params.id));
      return reply.status(204).send();
    },
  );

  app.post(
    `${base}/:id/preview`,
    {
      schema: {
        tags,
        security,
        summary:
          'Render a template for one contact: {subject?, text, html?} for email, {text, encoding (GSM-7/UCS-2), segments} for SMS',
        params: idParams,
        body: z.strictObject({ contact_id: z.uuid() }),
        response: { 200: previewSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, async ({ tx, businessId, userId }) => {
        const t = await getTemplate(tx, businessId, req.params.id);
        return previewTemplate(tx, businessId, userId, t, req.body.contact_id);
      }),
  );
}
