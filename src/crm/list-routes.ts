// HTTP: lists and bulk membership changes.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { listContacts } from './contact-list.ts';
import { addListMembers, createList, deleteList, getList, listLists, removeListMembers, updateList } from './lists.ts';
import {
  bidParams,
  contactQuery,
  contactSchema,
  idParams,
  listCreate,
  listSchema,
  listUpdate,
  memberIds,
  pageOf,
} from './schemas.ts';
import { inBusiness } from '../server/scope.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';

const tags = ['lists'];
const security = BEARER_SECURITY;

export function listRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/lists';

  app.get(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'All lists with member counts',
        params: bidParams,
        response: { 200: z.object({ items: z.array(listSchema) }) },
      },
    },
    async (req) => ({
      items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listLists(tx, businessId)),
    }),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Create a list',
        params: bidParams,
        body: listCreate,
        response: { 201: listSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => createList(tx, businessId, req.body))),
  );

  app.get(
    `${base}/:id`,
    {
      schema: { tags, security, summary: 'A list', params: idParams, response: { 200: listSchema } },
    },
    async (req) => inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getList(tx, businessId, req.params.id)),
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Rename or recolor a list',
        params: idParams,
        body: listUpdate,
        response: { 200: listSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => updateList(tx, businessId, req.params.id, req.body)),
  );

  app.delete(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Delete a list (its contacts stay)',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => deleteList(tx, businessId, req.params.id));
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${base}/:id/members`,
    {
      schema: {
        tags,
        security,
        summary: 'Contacts on the list (same paging and filters as contacts)',
        params: idParams,
        querystring: contactQuery.omit({ list_id: true }),
        response: { 200: pageOf(contactSchema) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, async ({ tx, businessId }) => {
        await getList(tx, businessId, req.params.id);
        return listContacts(tx, businessId, { ...req.query, list_id: req.params.id });
      }),
  );

  app.post(
    `${base}/:id/members`,
    {
      schema: {
        tags,
        security,
        summary: 'Add contacts to the list (all or nothing)',
        params: idParams,
        body: memberIds,
        response: { 200: z.object({ added: z.number() }) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        addListMembers(tx, businessId, req.params.id, req.body.contact_ids),
      ),
  );

  app.delete(
    `${base}/:id/members`,
    {
      schema: {
        tags,
        security,
        summary: 'Remove contacts from the list',
        params: idParams,
        body: memberIds,
        response: { 200: z.object({ removed: z.number() }) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        removeListMembers(tx, businessId, req.params.id, req.body.contact_ids),
      ),
  );
}
