// HTTP: the pipeline — deals, kanban moves, stage history and deal notes.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { createDeal, dealStageChanges, deleteDeal, getDeal, listDeals, moveDeal, updateDeal } from './deals.ts';
import { createNote, listNotes } from './notes.ts';
import {
  bidParams,
  dealCreate,
  dealMove,
  dealQuery,
  dealSchema,
  dealUpdate,
  idParams,
  noteBody,
  noteSchema,
  pageOf,
  pageQuery,
  stageChangeSchema,
} from './schemas.ts';
import { inBusiness } from '../server/scope.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';

const tags = ['pipeline'];
const security = BEARER_SECURITY;

export function dealRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/deals';

  app.get(
    base,
    {
      // The pipeline board: its transaction's set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags,
        security,
        summary: 'Deals in kanban order (stage, position), keyset paged',
        params: bidParams,
        querystring: dealQuery,
        response: { 200: pageOf(dealSchema) },
      },
    },
    async (req) => inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listDeals(tx, businessId, req.query)),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Create a deal (bottom of its stage)',
        params: bidParams,
        body: dealCreate,
        response: { 201: dealSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => createDeal(tx, businessId, req.body))),
  );

  app.get(
    `${base}/:id`,
    {
      schema: { tags, security, summary: 'A deal', params: idParams, response: { 200: dealSchema } },
    },
    async (req) => inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getDeal(tx, businessId, req.params.id)),
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Update a deal (a new stage is recorded)',
        params: idParams,
        body: dealUpdate,
        response: { 200: dealSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => updateDeal(tx, businessId, req.params.id, req.body)),
  );

  app.delete(
    `${base}/:id`,
    {
      schema: { tags, security, summary: 'Delete a deal', params: idParams, response: { 204: z.null() } },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => deleteDeal(tx, businessId, req.params.id));
      return reply.status(204).send(null);
    },
  );

  app.post(
    `${base}/:id/move`,
    {
      schema: {
        tags,
        security,
        summary: 'Move a deal on the kanban board (stage and/or position)',
        params: idParams,
        body: dealMove,
        response: { 200: dealSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => moveDeal(tx, businessId, req.params.id, req.body)),
  );

  app.get(
    `${base}/:id/stage-changes`,
    {
      schema: {
        tags,
        security,
        summary: 'Stage history of a deal, oldest first',
        params: idParams,
        response: { 200: z.object({ items: z.array(stageChangeSchema) }) },
      },
    },
    async (req) => ({
      items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        dealStageChanges(tx, businessId, req.params.id),
      ),
    }),
  );

  app.get(
    `${base}/:id/notes`,
    {
      schema: {
        tags,
        security,
        summary: "A deal's notes, newest first",
        params: idParams,
        querystring: pageQuery,
        response: { 200: pageOf(noteSchema) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listNotes(tx, businessId, { deal_id: req.params.id }, req.query),
      ),
  );

  app.post(
    `${base}/:id/notes`,
    {
      schema: {
        tags,
        security,
        summary: 'Add a note to a deal',
        params: idParams,
        body: noteBody,
        response: { 201: noteSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
            createNote(tx, businessId, { deal_id: req.params.id }, req.body.body),
          ),
        ),
  );
}
