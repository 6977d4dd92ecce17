// HTTP for AI assistance (docs/ARCHITECTURE.md §23), all under /api/businesses/:bid:
//   integrations/ai            GET (members), PUT, DELETE (owners/admins) — the provider; the key is never returned
//   ai/settings                GET (members), PATCH (owners/admins) — switch, about/FAQ text, monthly budget
//   conversations/:id/suggest-reply   POST — JSON, or server-sent events with Accept: text/event-stream
//   contacts/:id/summary       POST (make one), GET (the newest)
//   ai/usage                   GET — the month's calls and tokens (admins: the business; members: their own)
//   ai/drafts                  GET, POST; ai/drafts/:id/approve|discard POST — the review queue
// Request bodies are never logged (the logger does not log bodies; api_key is in the redaction list).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/index.ts';
import { inBusiness } from '../server/scope.ts';
import { actorOf } from '../integrations/routes.ts';
import type { MessagingDeps } from '../messaging/send.ts';
import type { RouteModule } from '../server/app.ts';
import { callerOf } from '../server/authenticate.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import type { AssistDeps, RunTx } from './assist.ts';
import { usageSummary } from './calls.ts';
import { approveDraft, createDraft, discardDraft, listDrafts } from './drafts.ts';
import { latestSummary, suggestReply, suggestReplyStream, summariseContact } from './features.ts';
import { getAiProvider, putAiProvider, removeAiProvider, type AiProviderDeps } from './providers.ts';
import { getAiSettings, updateAiSettings } from './settings.ts';

export interface AiRouteDeps {
  db: Database;
  assist: AssistDeps;
  providers: AiProviderDeps;
  messaging: MessagingDeps;
}

const security = [{ bearer: [] }];
const tags = ['ai'];
const bidParams = z.object({ bid: z.string().uuid() });
const idParams = bidParams.extend({ id: z.string().uuid() });

const providerBody = z
  .object({
    provider: z.enum(['openai', 'openai_compatible']),
    // Messages name the rule, never the value.
    api_key: z
      .string()
      .trim()
      .min(8, 'api_key is too short')
      .max(512, 'api_key is at most 512 characters')
      .regex(/^[\x21-\x7e]+$/, 'api_key must be printable ASCII without spaces')
      .optional(),
    model: z.string().trim().min(1, 'model is required').max(200, 'model is at most 200 characters'),
    base_url: z.string().trim().max(500, 'base_url is at most 500 characters').optional(),
  })
  .strict();

const providerView = z.object({
  provider: z.enum(['openai', 'openai_compatible']),
  model: z.string(),
  base_url: z.string().nullable(),
  configured_by: z.string().nullable(),
  configured_by_email: z.string().nullable(),
  configured_at: z.string(),
});

const settingsView = z.object({
  enabled: z.boolean(),
  about: z.string(),
  monthly_token_budget: z.number(),
});

const settingsPatch = z
  .object({
    enabled: z.boolean().optional(),
    about: z.string().max(4000, 'about is at most 4000 characters').optional(),
    monthly_token_budget: z.number().int().min(0).max(10_000_000_000).optional(),
  })
  .strict();

const flag = z.object({ kind: z.enum(['phone', 'email']), value: z.string(), reason: z.string() });
const suggestionView = z.object({
  text: z.string(),
  flags: z.array(flag),
  model: z.string(),
  tokens_in: z.number(),
  tokens_out: z.number(),
});
const summaryView = z.object({
  id: z.string(),
  contact_id: z.string(),
  text: z.string(),
  flags: z.array(flag),
  model: z.string(),
  created_by: z.string().nullable(),
  created_at: z.string(),
});
const draftStatus = z.enum(['pending', 'sending', 'approved', 'discarded']);
const draftView = z.object({
  id: z.string(),
  conversation_id: z.string(),
  contact_id: z.string(),
  contact_name: z.string(),
  body: z.string(),
  flags: z.array(flag),
  origin: z.enum(['manual', 'automation']),
  status: draftStatus,
  created_by: z.string().nullable(),
  created_at: z.string(),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  sent_message_id: z.string().nullable(),
});
const usageView = z.object({
  month: z.string(),
  scope: z.enum(['business', 'own']),
  monthly_token_budget: z.number(),
  business_tokens_used: z.number().nullable(),
  calls: z.number(),
  tokens_in: z.number(),
  tokens_out: z.number(),
  by_feature: z.array(
    z.object({
      feature: z.string(),
      calls: z.number(),
      tokens_in: z.number(),
      tokens_out: z.number(),
      errors: z.number(),
      avg_latency_ms: z.number().nullable(),
    }),
  ),
});

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function aiRoutes(deps: AiRouteDeps): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid';
    const asCaller =
      (req: FastifyRequest, bid: string): RunTx =>
      (fn) =>
        inBusiness(deps.db, req, bid, ({ tx }) => fn(tx));
    const who = (req: FastifyRequest, bid: string) => ({ businessId: bid, userId: callerOf(req).sub });

    app.get(
      `${base}/integrations/ai`,
      {
        schema: {
          tags,
          security,
          summary: 'The AI provider (any member; never the key) and the AI settings',
          params: bidParams,
          response: { 200: z.object({ provider: providerView.nullable(), settings: settingsView }) },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, async ({ tx, businessId }) => ({
          provider: await getAiProvider(tx, businessId),
          settings: await getAiSettings(tx, businessId),
        })),
    );

    app.put(
      `${base}/integrations/ai`,
      {
        schema: {
          tags,
          security,
          summary:
            'Set the AI provider (owner/admin). The key is verified with one models-list call and stored only in the vault; a new provider or base_url needs the key again',
          params: bidParams,
          body: providerBody,
          response: { 200: providerView },
        },
      },
      async (req) => {
        const saved = await putAiProvider(deps.providers, actorOf(req), req.params.bid, req.body);
        req.log.info({ business_id: req.params.bid, provider: saved.provider, model: saved.model }, 'ai provider set');
        return saved;
      },
    );

    app.delete(
      `${base}/integrations/ai`,
      {
        schema: { tags, security, summary: 'Remove the AI provider and its key (owner/admin)', params: bidParams },
      },
      async (req, reply) => {
        await removeAiProvider(deps.providers, actorOf(req), req.params.bid);
        req.log.info({ business_id: req.params.bid }, 'ai provider removed');
        return reply.status(204).send();
      },
    );

    app.get(
      `${base}/ai/settings`,
      {
        schema: {
          tags,
          security,
          summary: 'AI settings (any member)',
          params: bidParams,
          response: { 200: settingsView },
        },
      },
      async (req) => inBusiness(deps.db, req, req.params.bid, ({ tx, businessId }) => getAiSettings(tx, businessId)),
    );

    app.patch(
      `${base}/ai/settings`,
      {
        schema: {
          tags,
          security,
          summary: 'Turn AI on/off, edit the about/FAQ text, set the monthly token budget (owner/admin)',
          params: bidParams,
          body: settingsPatch,
          response: { 200: settingsView },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, ({ tx, businessId }) => updateAiSettings(tx, businessId, req.body)),
    );

    app.post(
      `${base}/conversations/:id/suggest-reply`,
      {
        schema: {
          tags,
          security,
          summary:
            'Suggest a reply (any member). With Accept: text/event-stream the text streams as server-sent events: `delta` {text}, then `done` (this JSON) or `error` {code, message}. Nothing is sent.',
          params: idParams,
          response: { 200: suggestionView },
        },
      },
      async (req, reply) => {
        const { bid, id } = req.params;
        if (!(req.headers.accept ?? '').includes('text/event-stream')) {
          return suggestReply(deps.assist, asCaller(req, bid), who(req, bid), id);
        }
        // Refusals (limits, no provider, provider errors) are plain JSON errors: nothing was streamed yet.
        const stream = await suggestReplyStream(deps.assist, asCaller(req, bid), who(req, bid), id);
        return streamOut(req, reply, stream);
      },
    );

    app.post(
      `${base}/contacts/:id/summary`,
      {
        schema: {
          tags,
          security,
          summary: 'Summarise a contact in five lines (thread, notes, open deal); stored with its date (any member)',
          params: idParams,
          response: { 201: summaryView },
        },
      },
      async (req, reply) => {
        const made = await summariseContact(
          deps.assist,
          asCaller(req, req.params.bid),
          who(req, req.params.bid),
          req.params.id,
        );
        return reply.status(201).send(made);
      },
    );

    app.get(
      `${base}/contacts/:id/summary`,
      {
        schema: {
          tags,
          security,
          summary: "The contact's newest summary, or null",
          params: idParams,
          response: { 200: z.object({ summary: summaryView.nullable() }) },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, async ({ tx, businessId }) => ({
          summary: await latestSummary(tx, businessId, req.params.id),
        })),
    );

    app.get(
      `${base}/ai/usage`,
      {
        schema: {
          tags,
          security,
          summary: "A month's AI calls and tokens by feature (owners/admins: the business; members: their own)",
          params: bidParams,
          querystring: z.object({
            month: z
              .string()
              .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'month is YYYY-MM')
              .optional(),
          }),
          response: { 200: usageView },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, ({ tx, businessId }) => usageSummary(tx, businessId, req.query.month)),
    );

    app.get(
      `${base}/ai/drafts`,
      {
        schema: {
          tags,
          security,
          summary: 'The AI drafts review queue, newest first (any member)',
          params: bidParams,
          querystring: z.object({
            status: draftStatus.default('pending'),
            limit: z.coerce.number().int().min(1).max(100).default(50),
          }),
          response: { 200: z.object({ items: z.array(draftView) }) },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, async ({ tx, businessId }) => ({
          items: await listDrafts(tx, businessId, req.query),
        })),
    );

    app.post(
      `${base}/ai/drafts`,
      {
        schema: {
          tags,
          security,
          summary: 'Draft a reply to a conversation with AI into the review queue (any member); nothing is sent',
          params: bidParams,
          body: z.object({ conversation_id: z.string().uuid() }).strict(),
          response: { 201: draftView },
        },
      },
      async (req, reply) => {
        const draft = await createDraft(
          deps.assist,
          asCaller(req, req.params.bid),
          who(req, req.params.bid),
          req.body.conversation_id,
          'manual',
        );
        return reply.status(201).send(draft);
      },
    );

    app.post(
      `${base}/ai/drafts/:id/approve`,
      {
        schema: {
          tags,
          security,
          summary: 'Approve a draft — optionally edited — and send it now in your name (any member)',
          params: idParams,
          body: z
            .object({ body: z.string().trim().min(1, 'body must not be empty').max(1600).optional() })
            .strict()
            .nullish(),
          response: { 200: z.object({ draft: draftView, message_id: z.string() }) },
        },
      },
      async (req) => {
        const { draft, message } = await approveDraft(
          { assist: deps.assist, messaging: deps.messaging },
          asCaller(req, req.params.bid),
          who(req, req.params.bid),
          req.params.id,
          req.body?.body ?? undefined,
        );
        return { draft, message_id: message.id };
      },
    );

    app.post(
      `${base}/ai/drafts/:id/discard`,
      {
        schema: {
          tags,
          security,
          summary: 'Discard a draft (any member)',
          params: idParams,
          response: { 200: draftView },
        },
      },
      async (req) =>
        inBusiness(deps.db, req, req.params.bid, ({ tx, businessId, userId }) =>
          discardDraft(tx, businessId, userId, req.params.id),
        ),
    );
  };
}

/** Write a suggestion as server-sent events; a failure mid-stream is an `error` event, never a 5xx. */
async function streamOut(
  req: FastifyRequest,
  reply: FastifyReply,
  stream: Awaited<ReturnType<typeof suggestReplyStream>>,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = String(v);
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  let clientGone = false;
  raw.on('close', () => {
    if (!raw.writableFinished) {
      clientGone = true;
      void stream.abort().catch((e: unknown) => req.log.warn({ err: e }, 'ai stream abort failed'));
    }
  });
  try {
    for await (const piece of stream.pieces) {
      if (clientGone) break;
      raw.write(sse('delta', { text: piece }));
    }
    if (!clientGone) raw.write(sse('done', await stream.finish()));
  } catch (e) {
    const err = isAppError(e) ? e : new AppError('ai_provider_error', 'the AI answer broke off; try again');
    if (!isAppError(e)) req.log.error({ err: e }, 'ai stream failed');
    else req.log.info({ code: err.code }, 'ai stream ended with an error');
    // Records the call's outcome (the stream already failed, so this settles at once).
    await stream.finish().catch(() => undefined);
    if (!clientGone) raw.write(sse('error', { code: err.code, message: err.message }));
  } finally {
    if (!clientGone) raw.end();
  }
}
