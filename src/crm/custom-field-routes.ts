// HTTP: custom field definitions (docs/ARCHITECTURE.md §12). Every member
// reads them (to show and edit values); owners and admins create, change and delete
// them — the service answers 403 first, and migration 0070's policies refuse anyway.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { createCustomField, deleteCustomField, listCustomFields, updateCustomField } from './custom-fields.ts';
import {
  bidParams,
  customFieldCreate,
  customFieldQuery,
  customFieldSchema,
  customFieldUpdate,
  idParams,
} from './schemas.ts';
import { inBusiness } from '../server/scope.ts';

const tags = ['custom fields'];
const security = [{ bearer: [] }];

export function customFieldRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/custom-fields';

  app.get(
    base,
    {
      schema: {
        tags,
        security,
        summary: "The business's custom fields (any member), by entity and position",
        params: bidParams,
        querystring: customFieldQuery,
        response: { 200: z.object({ items: z.array(customFieldSchema) }) },
      },
    },
    async (req) => ({
      items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listCustomFields(tx, businessId, req.query.entity),
      ),
    }),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Define a custom field (owner/admin); the key defaults to the label in snake_case',
        params: bidParams,
        body: customFieldCreate,
        response: { 201: customFieldSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
            createCustomField(tx, businessId, req.body),
          ),
        ),
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Rename, reorder or change the options of a custom field (owner/admin); key and type never change',
        params: idParams,
        body: customFieldUpdate,
        response: { 200: customFieldSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        updateCustomField(tx, businessId, req.params.id, req.body),
      ),
  );

  app.delete(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Delete a custom field and its values on every record (owner/admin)',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        deleteCustomField(tx, businessId, req.params.id),
      );
      return reply.status(204).send(null);
    },
  );
}
