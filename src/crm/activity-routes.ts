// HTTP: notes (edit/delete by id) and tasks, including "my open tasks"
// (`GET …/tasks?assignee=me&done=false`).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { deleteNote, updateNote } from './notes.ts';
import {
  bidParams,
  idParams,
  noteBody,
  noteSchema,
  pageOf,
  taskCreate,
  taskQuery,
  taskSchema,
  taskUpdate,
} from './schemas.ts';
import { inBusiness } from '../server/scope.ts';
import { createTask, deleteTask, getTask, listTasks, updateTask } from './tasks.ts';
import { BEARER_SECURITY } from '../server/authenticate.ts';

const security = BEARER_SECURITY;

export function activityRoutes(root: FastifyInstance, db: Database): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const notes = '/api/businesses/:bid/notes';
  const tasks = '/api/businesses/:bid/tasks';

  app.patch(
    `${notes}/:id`,
    {
      schema: {
        tags: ['notes'],
        security,
        summary: 'Edit your note',
        params: idParams,
        body: noteBody,
        response: { 200: noteSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) =>
        updateNote(tx, businessId, req.params.id, req.body.body),
      ),
  );

  app.delete(
    `${notes}/:id`,
    {
      schema: {
        tags: ['notes'],
        security,
        summary: 'Delete a note (its author or an admin)',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => deleteNote(tx, businessId, req.params.id));
      return reply.status(204).send(null);
    },
  );

  app.get(
    tasks,
    {
      // Tasks on the dashboard and the contact page: the set-up is the session check (§8).
      config: { sessionInTransaction: true },
      schema: {
        tags: ['tasks'],
        security,
        summary: 'Tasks by due date; assignee=me&done=false is "my open tasks"',
        params: bidParams,
        querystring: taskQuery,
        response: { 200: pageOf(taskSchema) },
      },
    },
    async (req) => inBusiness(db, req, req.params.bid, ({ tx, businessId }) => listTasks(tx, businessId, req.query)),
  );

  app.post(
    tasks,
    {
      schema: {
        tags: ['tasks'],
        security,
        summary: 'Create a task (assigned to you unless assignee_id is given)',
        params: bidParams,
        body: taskCreate,
        response: { 201: taskSchema },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => createTask(tx, businessId, req.body))),
  );

  app.get(
    `${tasks}/:id`,
    {
      schema: { tags: ['tasks'], security, summary: 'A task', params: idParams, response: { 200: taskSchema } },
    },
    async (req) => inBusiness(db, req, req.params.bid, ({ tx, businessId }) => getTask(tx, businessId, req.params.id)),
  );

  app.patch(
    `${tasks}/:id`,
    {
      schema: {
        tags: ['tasks'],
        security,
        summary: 'Update a task (done: true records when)',
        params: idParams,
        body: taskUpdate,
        response: { 200: taskSchema },
      },
    },
    async (req) =>
      inBusiness(db, req, req.params.bid, ({ tx, businessId }) => updateTask(tx, businessId, req.params.id, req.body)),
  );

  app.delete(
    `${tasks}/:id`,
    {
      schema: { tags: ['tasks'], security, summary: 'Delete a task', params: idParams, response: { 204: z.null() } },
    },
    async (req, reply) => {
      await inBusiness(db, req, req.params.bid, ({ tx, businessId }) => deleteTask(tx, businessId, req.params.id));
      return reply.status(204).send(null);
    },
  );
}
