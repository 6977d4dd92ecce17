// HTTP: contacts, the trash, a contact's lists, notes and timeline. Handlers parse,
// call a service inside the caller's business transaction, and shape the output.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { listContacts } from './contact-list.ts';
import { getContactDetail } from './contact-detail.ts';
import { createContact, deleteContactForever, restoreContact, trashContact, updateContact } from './contacts.ts';
import { listsOfContact } from './lists.ts';
import { createNote, listNotes } from './notes.ts';
import {
  bidParams,
  contactCreate,
  contactDetailSchema,
  contactQuery,
  contactSchema,
  contactUpdate,
  idParams,
  listRefSchema,
  noteBody,
  noteSchema,
  pageOf,
  pageQuery,
  timelineItemSchema,
} from './schemas.ts';
import { inBusiness } from '../server/scope.ts';
import { contactTimeline } from './timeline.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';

const tags = ['contacts'];
const security = BEARER_SECURITY;

export function contactRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const base = '/api/businesses/:bid/contacts';

  app.get(
    base,
    {
      // The busiest page: its transaction's set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags,
        security,
        summary: 'List or search contacts (keyset paged)',
        params: bidParams,
        querystring: contactQuery,
        response: { 200: pageOf(contactSchema) },
      },
    },
    async (req) => inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listContacts(tx, businessId, req.query)),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Create a contact (409 duplicate_contact with details.existing_id)',
        params: bidParams,
        body: contactCreate,
        response: { 201: contactSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => createContact(tx, businessId, req.body)),
        ),
  );

  app.get(
    `${base}/:id`,
    {
      // The contact page: its transaction's set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags,
        security,
        summary: 'A contact with its lists and SMS opt-outs',
        params: idParams,
        response: { 200: contactDetailSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getContactDetail(tx, businessId, req.params.id)),
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Update a contact',
        params: idParams,
        body: contactUpdate,
        response: { 200: contactSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        updateContact(tx, businessId, req.params.id, req.body),
      ),
  );

  app.delete(
    `${base}/:id`,
    {
      schema: {
        tags,
        security,
        summary: 'Move a contact to the trash (restorable for 30 days)',
        params: idParams,
        response: { 200: contactSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => trashContact(tx, businessId, req.params.id)),
  );

  app.post(
    `${base}/:id/restore`,
    {
      schema: {
        tags,
        security,
        summary: 'Restore a contact from the trash',
        params: idParams,
        response: { 200: contactSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => restoreContact(tx, businessId, req.params.id)),
  );

  app.delete(
    `${base}/:id/permanent`,
    {
      schema: {
        tags,
        security,
        summary: 'Delete a trashed contact forever (owner/admin)',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        deleteContactForever(tx, businessId, req.params.id),
      );
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${base}/:id/lists`,
    {
      schema: {
        tags,
        security,
        summary: "A contact's lists",
        params: idParams,
        response: { 200: z.object({ items: z.array(listRefSchema) }) },
      },
    },
    async (req) => ({
      items: await inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listsOfContact(tx, businessId, req.params.id),
      ),
    }),
  );

  app.get(
    `${base}/:id/timeline`,
    {
      // The contact page's timeline: the set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags,
        security,
        summary: 'Activity timeline, newest first (keyset paged)',
        params: idParams,
        querystring: pageQuery,
        response: { 200: pageOf(timelineItemSchema) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        contactTimeline(tx, businessId, req.params.id, req.query),
      ),
  );

  app.get(
    `${base}/:id/notes`,
    {
      schema: {
        tags,
        security,
        summary: "A contact's notes, newest first",
        params: idParams,
        querystring: pageQuery,
        response: { 200: pageOf(noteSchema) },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        listNotes(tx, businessId, { contact_id: req.params.id }, req.query),
      ),
  );

  app.post(
    `${base}/:id/notes`,
    {
      schema: {
        tags,
        security,
        summary: 'Add a note to a contact',
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
            createNote(tx, businessId, { contact_id: req.params.id }, req.body.body),
          ),
        ),
  );
}
